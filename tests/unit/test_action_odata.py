"""OData filter building: identifiers checked, literals escaped, never spliced raw."""
import pytest

from ciconnector.data_actions import odata
from ciconnector.errors import InvalidInput


def test_single_quotes_are_doubled():
    assert odata.string_literal("O'Brien", "key") == "'O''Brien'"


def test_injection_attempt_stays_inside_the_literal():
    where = odata.equals("CustomerId", "x' or CustomerId ne '", name_field="keyName", value_field="itemId")
    assert where == "CustomerId eq 'x'' or CustomerId ne '''"


@pytest.mark.parametrize("value", ["a\nb", "tab\there", "\x00", "x" * 257])
def test_control_characters_and_overlong_values_are_refused(value):
    with pytest.raises(InvalidInput) as caught:
        odata.string_literal(value, "itemId")
    assert (caught.value.status, caught.value.field) == (400, "itemId")


@pytest.mark.parametrize("name", ["Customer Id", "Id eq 1 or 1", "1abc", "", "a/b", "é"])
def test_field_names_must_be_identifiers(name):
    with pytest.raises(InvalidInput) as caught:
        odata.identifier(name, "keyName")
    assert (caught.value.status, caught.value.code, caught.value.field) == (400, "InvalidIdentifier", "keyName")


def test_plain_identifiers_pass():
    assert odata.identifier("ActivityId", "keyName") == "ActivityId"
