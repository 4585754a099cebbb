"""The callback URL rule (https, size, credentials, public addresses only) and log redaction."""
import io
import logging
import socket

import pytest

from ciconnector.redaction import RedactingFilter, install, quiet_http_loggers, redact_url
from ciconnector.trigger_kinds import CallbackUrlError, check_callback_url, parse_allowed_hosts
from ciconnector.trigger_kinds.callback import is_blocked_address

FLOW = ("https://prod-12.westeurope.logic.azure.com:443/workflows/0a1b2c/triggers/manual/paths/invoke"
        "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=Zx9-secret_SIG")


def resolver(*addresses: str):
    """A getaddrinfo stand-in answering ``addresses`` and recording the lookups."""
    def resolve(host, port, *args, **kwargs):
        resolve.calls.append((host, port))
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in addresses]
    resolve.calls = []
    return resolve


def failing_resolver(host, port, *args, **kwargs):
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def refused(url, **kwargs) -> CallbackUrlError:
    with pytest.raises(CallbackUrlError) as err:
        check_callback_url(url, **kwargs)
    assert err.value.field == "callbackUrl"
    assert "secret_SIG" not in err.value.message
    return err.value


def test_public_https_url_passes_with_its_checked_addresses():
    resolve = resolver("20.50.2.10", "2603:1020:203::10", "20.50.2.10")
    checked = check_callback_url(FLOW, resolver=resolve)
    assert (checked.url, checked.host, checked.port) == (FLOW, "prod-12.westeurope.logic.azure.com", 443)
    assert checked.addresses == ("20.50.2.10", "2603:1020:203::10")
    assert resolve.calls == [("prod-12.westeurope.logic.azure.com", 443)]


def test_default_resolver_is_getaddrinfo():
    assert check_callback_url.__kwdefaults__["resolver"] is socket.getaddrinfo


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "100.127.255.254",
    "0.0.0.0", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.0.8", "198.18.0.1",
    "::1", "::", "fe80::1", "fe80::1%eth0", "fc00::1", "fd12:3456::1", "ff02::1", "fec0::1", "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "2002:7f00:1::1",
])
def test_non_public_addresses_are_refused(address):
    assert is_blocked_address(address)
    assert refused(FLOW, resolver=resolver(address)).code == "CallbackHostNotAllowed"


@pytest.mark.parametrize("address", ["20.50.2.10", "8.8.8.8", "2603:1020:203::10", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert not is_blocked_address(address)


def test_one_private_answer_among_public_ones_is_refused():
    assert refused(FLOW, resolver=resolver("20.50.2.10", "10.0.0.5")).code == "CallbackHostNotAllowed"


@pytest.mark.parametrize("url, code", [
    ("https://127.0.0.1/hook?sig=secret_SIG", "CallbackHostNotAllowed"),
    ("https://[::1]:8443/hook", "CallbackHostNotAllowed"),
    ("https://[::ffff:127.0.0.1]/hook", "CallbackHostNotAllowed"),
    ("https://[::ffff:a9fe:a9fe]/latest/meta-data", "CallbackHostNotAllowed"),
])
def test_ip_literal_hosts_are_checked_without_resolving(url, code):
    resolve = resolver("20.50.2.10")
    assert refused(url, resolver=resolve).code == code
    assert resolve.calls == []


def test_public_ip_literal_passes_without_resolving():
    resolve = resolver()
    assert check_callback_url("https://20.50.2.10/hook", resolver=resolve).addresses == ("20.50.2.10",)
    assert resolve.calls == []


@pytest.mark.parametrize("url, code", [
    (None, "MissingCallbackUrl"),
    ("", "MissingCallbackUrl"),
    (42, "MissingCallbackUrl"),
    (FLOW.replace("https://", "http://"), "CallbackUrlNotHttps"),
    ("ftp://example.com/hook", "CallbackUrlNotHttps"),
    ("example.com/hook", "CallbackUrlNotHttps"),
    ("https://user:secret_SIG@example.com/hook", "CallbackUrlHasCredentials"),
    ("https://user@example.com/hook", "CallbackUrlHasCredentials"),
    ("https://example.com/ho ok", "InvalidCallbackUrl"),
    ("https://example.com/hook\r\nX-Injected: 1", "InvalidCallbackUrl"),
    ("https://example.com:99999/hook", "InvalidCallbackUrl"),
    ("https://example.com:port/hook", "InvalidCallbackUrl"),
    ("https:///hook", "InvalidCallbackUrl"),
])
def test_malformed_callback_urls_are_refused(url, code):
    assert refused(url, resolver=resolver("20.50.2.10")).code == code


def test_length_limit_is_two_kibibytes():
    base = "https://example.com/hook?sig="
    assert check_callback_url(base + "a" * (2048 - len(base)), resolver=resolver("20.50.2.10"))
    assert refused(base + "a" * (2049 - len(base)), resolver=resolver("20.50.2.10")).code == "CallbackUrlTooLong"


@pytest.mark.parametrize("resolve", [failing_resolver, resolver()])
def test_unresolvable_host_is_refused(resolve):
    assert refused(FLOW, resolver=resolve).code == "CallbackHostUnresolvable"


def test_allowlist_bypasses_only_the_address_check():
    allowed = parse_allowed_hosts(" 127.0.0.1:8443 , LocalHost,")
    assert allowed == ("127.0.0.1:8443", "localhost")
    resolve = resolver("127.0.0.1")
    checked = check_callback_url("https://127.0.0.1:8443/api/hook?sig=x", allowed_hosts=allowed, resolver=resolve)
    assert (checked.host, checked.port, checked.addresses) == ("127.0.0.1", 8443, ())
    assert check_callback_url("https://localhost:7071/x", allowed_hosts=allowed, resolver=resolve).port == 7071
    assert resolve.calls == []
    assert refused("https://127.0.0.1:9443/hook", allowed_hosts=allowed, resolver=resolve).code == \
        "CallbackHostNotAllowed"
    assert refused("http://127.0.0.1:8443/hook", allowed_hosts=allowed).code == "CallbackUrlNotHttps"
    assert refused("https://u:p@localhost/hook", allowed_hosts=allowed).code == "CallbackUrlHasCredentials"


def test_allowlist_ipv6_entry_and_empty_setting():
    checked = check_callback_url("https://[::1]:8443/x", allowed_hosts=parse_allowed_hosts("[::1]:8443"))
    assert checked.host == "::1"
    assert parse_allowed_hosts("") == ()


@pytest.mark.parametrize("raw", ["host/path", "host:port", "user@host", "host:70000", ":8443"])
def test_malformed_allowlist_entries_are_reported(raw):
    with pytest.raises(ValueError, match="CALLBACK_ALLOWED_HOSTS"):
        parse_allowed_hosts(raw)


# --- redaction ------------------------------------------------------------------------------------

def test_flow_callback_url_loses_only_its_signature():
    assert redact_url(FLOW) == FLOW.replace("sig=Zx9-secret_SIG", "sig=REDACTED")


@pytest.mark.parametrize("url, expected", [
    ("https://fn.example.net/api/hook?code=abc==&x=1", "https://fn.example.net/api/hook?code=REDACTED&x=1"),
    ("https://h/p?Signature=s1&X-Goog-Signature=s2&access_token=t&apiKey=k&client_secret=c&color=blue",
     "https://h/p?Signature=REDACTED&X-Goog-Signature=REDACTED&access_token=REDACTED&apiKey=REDACTED"
     "&client_secret=REDACTED&color=blue"),
    ("https://h/p?SIG=a&Code=b#frag", "https://h/p?SIG=REDACTED&Code=REDACTED#frag"),
    ("https://h/p?%73ig=a", "https://h/p?%73ig=REDACTED"),
    ("https://h/p?sig=&sv=1.0", "https://h/p?sig=&sv=1.0"),
    ("https://h/p?zipcode=1&api-version=2016-06-01", "https://h/p?zipcode=1&api-version=2016-06-01"),
    ("https://user:pw@h/p?x=1", "https://REDACTED@h/p?x=1"),
    ("https://h/p", "https://h/p"),
])
def test_redact_url(url, expected):
    assert redact_url(url) == expected


def test_urls_inside_text_are_redacted_and_surrounding_text_kept():
    text = f"POST '{FLOW}' failed: 404 (see https://a/b?token=t)."
    assert redact_url(text) == (f"POST '{FLOW.replace('Zx9-secret_SIG', 'REDACTED')}' failed: 404 "
                                "(see https://a/b?token=REDACTED).")


class Capture(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []
        self.addFilter(RedactingFilter())
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record):
        self.lines.append(self.format(record))


def test_logging_filter_redacts_messages_arguments_and_exceptions():
    logger = logging.getLogger("tests.trigger.redaction")
    handler = Capture()
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        logger.warning("delivery to %s failed after %d attempts", FLOW, 3)
        logger.info("plain message with %s", "no secrets")
        try:
            raise ConnectionError(f"Max retries exceeded with url: {FLOW}")
        except ConnectionError:
            logger.exception("delivery crashed")
    finally:
        logger.removeHandler(handler)
    assert handler.lines[0] == f"delivery to {FLOW.replace('Zx9-secret_SIG', 'REDACTED')} failed after 3 attempts"
    assert handler.lines[1] == "plain message with no secrets"
    assert "secret_SIG" not in handler.lines[2] and "sig=REDACTED" in handler.lines[2]
    assert "Traceback" in handler.lines[2]


def test_http_client_loggers_are_quieted():
    for name in ("urllib3", "requests"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    quiet_http_loggers()
    assert logging.getLogger("urllib3").level == logging.WARNING
    assert logging.getLogger("requests").level == logging.WARNING
    assert not logging.getLogger("urllib3.connectionpool").isEnabledFor(logging.DEBUG)


def test_install_attaches_one_filter_per_handler():
    logger = logging.getLogger("tests.trigger.install")
    handler = logging.StreamHandler(io.StringIO())
    logger.addHandler(handler)
    try:
        install(logger)
        install(logger)
        assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
        logger.warning("posting to %s", FLOW)
        assert "Zx9-secret_SIG" not in handler.stream.getvalue()
        assert logging.getLogger("urllib3").level == logging.WARNING
    finally:
        logger.removeHandler(handler)
