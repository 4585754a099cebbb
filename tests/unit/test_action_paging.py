"""The next-page link of Get items."""
from urllib.parse import parse_qs, urlsplit

from ciconnector.data_actions.items import next_link


def test_next_link_advances_skip_and_drops_the_function_key():
    link = next_link("https://app.example.net/api/instances/i/data/Customer?%24top=10&code=SECRET&%24skip=0"
                     "&%24filter=CustomerId%20eq%20%27a%27", 10)
    parts = urlsplit(link)
    query = parse_qs(parts.query)
    assert parts.netloc == "app.example.net" and parts.path == "/api/instances/i/data/Customer"
    assert query == {"$top": ["10"], "$skip": ["10"], "$filter": ["CustomerId eq 'a'"]}
    assert "SECRET" not in link


def test_next_link_without_query():
    assert next_link("http://127.0.0.1:7071/api/instances/i/data/Customer", 100).endswith("?$skip=100")
