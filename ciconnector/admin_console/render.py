"""The console's HTML: the :class:`~.overview.Overview` rendered on the server as a fragment the page
script puts into ``<main>``. Every value is escaped; there are no inline scripts, styles or event
attributes (the page's Content-Security-Policy forbids them); buttons carry ``data-*`` attributes the
static script acts on. Callback URLs appear only redacted (``describe``), keys never.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from html import escape
from typing import Any, Iterable
from urllib.parse import urlsplit

from ..storage.activity import DeliveryActivity
from ..storage.deliveries import DEAD, DELIVERED, DROPPED, RETRYING, SENT
from ..storage.subscriptions import Owner
from ..trigger_kinds import CATALOG
from .overview import ConnectorLink, InstanceView, Overview, SubscriptionView

DEAD_LETTERS_SHOWN = 50
"""Dead letters listed per instance (newest first); *Replay all* replays every one."""


def render(overview: Overview) -> str:
    """The console's body for ``overview``."""
    now = overview.generated_at
    problems = sum(1 for i in overview.instances if i.problems)
    parts = [f'<p class="meta">Updated {_time(now, now)} · {len(overview.instances)} instance(s) · '
             f'{problems} with problems, listed first</p>',
             '<section aria-labelledby="instances-title"><h2 id="instances-title">Instances</h2>',
             _instances_table(overview.instances, now) if overview.instances else
             '<p class="empty">No instance yet: nothing is subscribed, watched or allowed (CI_INSTANCE_IDS).</p>',
             "</section>"]
    parts += [_instance_section(instance, now) for instance in overview.instances]
    parts.append(_connector_section(overview.connector))
    return "\n".join(parts)


def _instances_table(instances: Iterable[InstanceView], now: datetime) -> str:
    rows = []
    for i in instances:
        state = '<span class="badge bad">Problem</span>' if i.problems else '<span class="badge good">OK</span>'
        poll = i.last_poll
        poll_text = "never" if poll is None else f'{_time(poll.at, now)} · ' + (
            '<span class="good-text">ok</span>' if poll.ok else '<span class="bad-text">'
            + escape(", ".join(poll.failed) + " failed" if poll.failed else "state not saved") + "</span>")
        calls = f"{i.calls.calls} calls" + (f', <span class="bad-text">{i.calls.failures} failed</span>'
                                            if i.calls.failures else ", 0 failed")
        kinds = ", ".join(f"{n} × {escape(_kind(kind))}" for kind, n in i.by_kind.items()) or "none"
        event = i.latest_event
        event_text = "none" if event is None else (
            f'{escape(_kind(event.trigger))}{_subject(event.subject, event.outcome)} · {_time(event.at, now)}')
        problem_text = "; ".join(escape(p) for p in i.problems) or "—"
        rows.append(
            f'<tr class="{"problem" if i.problems else "ok"}">'
            f'<td data-label="Status">{state}</td>'
            f'<th scope="row" data-label="Instance"><a href="#{_anchor(i.instance_id)}">'
            f'<code>{escape(i.instance_id)}</code></a></th>'
            f'<td data-label="Problems" class="problems">{problem_text}</td>'
            f'<td data-label="Last poll">{poll_text}</td>'
            f'<td data-label="CI calls (1 h)">{calls}</td>'
            f'<td data-label="Detection lag">{_duration(i.detection_lag)}</td>'
            f'<td data-label="Subscriptions">{kinds}</td>'
            f'<td data-label="Latest event">{event_text}</td></tr>')
    head = "".join(f'<th scope="col">{h}</th>' for h in ("Status", "Instance", "Problems", "Last poll",
                                                          "CI calls (1 h)", "Detection lag", "Subscriptions",
                                                          "Latest event"))
    return f'<div class="scroll"><table class="instances"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}' \
           "</tbody></table></div>"


def _instance_section(instance: InstanceView, now: datetime) -> str:
    iid, anchor = escape(instance.instance_id), _anchor(instance.instance_id)
    unwatched = "" if instance.watched else ' <span class="badge">not watched</span>'
    parts = [f'<section class="instance" id="{anchor}" aria-labelledby="{anchor}-title">',
             f'<h2 id="{anchor}-title">Instance <code>{iid}</code>{unwatched}</h2>',
             f"<h3>Subscriptions ({len(instance.subscriptions)})</h3>"]
    if instance.subscriptions:
        rows = "".join(_subscription_row(s, now) for s in instance.subscriptions)
        head = "".join(f'<th scope="col">{h}</th>' for h in ("State", "Trigger", "Parameters", "Callback URL",
                                                              "Created", "Owner", "Last event", "Last delivery",
                                                              "Delivered / retrying / dead", "Actions"))
        parts.append(f'<div class="scroll"><table class="subscriptions"><thead><tr>{head}</tr></thead>'
                     f"<tbody>{rows}</tbody></table></div>")
    else:
        parts.append('<p class="empty">No subscriptions.</p>')
    letters = instance.dead_letters
    parts.append(f'<div class="heading-row"><h3>Dead letters ({len(letters)})</h3>' + (
        f'<button type="button" data-action="replay-all" data-instance="{iid}" '
        f'data-confirm="Replay all {len(letters)} dead letters of instance {iid}?">Replay all</button>'
        if letters else "") + "</div>")
    if letters:
        rows = "".join(
            f'<tr><td data-label="Dead since">{_time(d.dead_at, now)}</td>'
            f'<td data-label="Trigger">{escape(_kind(str(d.notification.get("trigger", ""))))}</td>'
            f'<td data-label="Subscription"><code>{escape(d.subscription_id[:8])}</code></td>'
            f'<td data-label="Event"><code class="id">{escape(d.event_id)}</code></td>'
            f'<td data-label="Attempts">{d.attempts}</td>'
            f'<td data-label="Last error" class="bad-text">{escape(d.reason)}</td>'
            f'<td data-label="Action"><button type="button" data-action="replay" data-instance="{iid}" '
            f'data-id="{escape(d.dead_letter_id)}" data-confirm="Replay event {escape(d.event_id)} to subscription '
            f'{escape(d.subscription_id[:8])}? The subscription is re-enabled.">Replay</button></td></tr>'
            for d in letters[:DEAD_LETTERS_SHOWN])
        head = "".join(f'<th scope="col">{h}</th>' for h in ("Dead since", "Trigger", "Subscription", "Event",
                                                              "Attempts", "Last error", "Action"))
        more = (f'<p class="meta">Showing the newest {DEAD_LETTERS_SHOWN} of {len(letters)}.</p>'
                if len(letters) > DEAD_LETTERS_SHOWN else "")
        parts.append(f'<div class="scroll"><table class="deadletters"><thead><tr>{head}</tr></thead>'
                     f"<tbody>{rows}</tbody></table></div>{more}")
    parts.append("</section>")
    return "\n".join(parts)


def _subscription_row(view: SubscriptionView, now: datetime) -> str:
    s = view.subscription
    described = view.to_dict()
    iid, sid = escape(s.instance_id), escape(s.subscription_id)
    state = '<span class="badge good">enabled</span>' if s.enabled else \
        f'<span class="badge bad">disabled</span> <span class="reason">{escape(view.disabled_reason or "")}</span>'
    params = {k: v for k, v in s.parameters.items() if k != "instanceId"}
    params_text = "<br>".join(f"{escape(k)} = {_value(v)}" for k, v in params.items()) or "—"
    last = view.last_delivery
    event_text = "none" if last is None else (
        f'{"test" if last.is_test else escape(_kind(last.trigger))}{_subject(last.subject, last.outcome)}'
        f'<br><code class="id">{escape(last.event_id)}</code>')
    answer = "none" if last is None else f'{_time(last.at, now)} · {_delivery_state(last)}'
    actions = [f'<button type="button" data-action="test" data-instance="{iid}" data-id="{sid}" '
               f'data-confirm="Send a test notification (isTest: true) to subscription {sid[:8]}?">Send test</button>']
    if not s.enabled:
        actions.append(f'<button type="button" data-action="enable" data-instance="{iid}" data-id="{sid}" '
                       f'data-confirm="Re-enable subscription {sid[:8]}? Its flow gets notifications again.">'
                       "Re-enable</button>")
    return (f'<tr class="{"ok" if s.enabled and not view.failing else "problem"}">'
            f'<td data-label="State">{state}</td>'
            f'<th scope="row" data-label="Trigger">{escape(_kind(s.trigger_kind))}<br><code>{sid[:8]}</code></th>'
            f'<td data-label="Parameters">{params_text}</td>'
            f'<td data-label="Callback URL">{_callback(described["callbackUrl"])}</td>'
            f'<td data-label="Created">{_time(s.created_at, now)}</td>'
            f'<td data-label="Owner">{_owner(s.owner)}</td>'
            f'<td data-label="Last event">{event_text}</td>'
            f'<td data-label="Last delivery">{answer}</td>'
            f'<td data-label="Delivered / retrying / dead">{described["delivered"]} / {described["retrying"]} / '
            f'{described["deadLettered"]}</td>'
            f'<td data-label="Actions" class="actions">{"".join(actions)}</td></tr>')


def _delivery_state(last: DeliveryActivity) -> str:
    """Where the last delivery stands: sent (the happy path records no answer), or the failure
    and what happens next."""
    if last.status in (SENT, DELIVERED):
        return '<span class="good-text">sent</span>' if last.status_code is None else \
            f'<span class="good-text">HTTP {last.status_code}</span>'
    answer = f"HTTP {last.status_code}" if last.status_code is not None else (last.error or "no answer")
    state = {RETRYING: "retrying", DEAD: "dead-lettered", DROPPED: "dropped"}.get(last.status, last.status)
    return f'<span class="bad-text">{escape(answer)}</span> · {escape(state)}'


def _owner(owner: Owner | None) -> str:
    """The subscribing user (Entra mode): display name, with tenant and object id in the tooltip."""
    if owner is None:
        return '<span class="muted">—</span>'
    key = escape(owner.key)
    return f'<span class="owner" title="{key}">{escape(owner.name or owner.object_id)}</span>'


def _connector_section(link: ConnectorLink) -> str:
    url = escape(link.definition_url)
    return f"""<section id="connector" aria-labelledby="connector-title">
<h2 id="connector-title">Connect Power Automate</h2>
<ol class="steps">
<li>Create a function key for the connection (never give makers the master key):
<pre><code>az functionapp keys set --resource-group &lt;group&gt; --name &lt;app&gt; --key-type functionKeys \\
  --key-name powerautomate</code></pre></li>
<li>In Power Automate: <strong>Custom connectors → New custom connector → Import an OpenAPI from URL</strong>,
name it, and paste this URL: <code class="url">{url}</code>
(<a href="{url}">open the definition</a>).</li>
<li>The definition already holds host <code>{escape(link.host)}</code>, base URL
<code>{escape(link.base_path)}</code> and the API key header <code>x-functions-key</code>:
<strong>Create connector</strong>, then <strong>New connection</strong> and paste the function key.</li>
</ol>
</section>"""


def _kind(kind_id: str) -> str:
    """A trigger kind as a short label: its summary without "When a"."""
    kind = CATALOG.get(kind_id)
    if kind is None:
        return kind_id or "—"
    text = kind.summary.removeprefix("When a ").removeprefix("When an ").removeprefix("When ")
    return text[:1].upper() + text[1:]


def _subject(subject: str, outcome: str) -> str:
    """`` — subject · outcome``, a failed outcome in red."""
    parts = [escape(subject)] if subject else []
    if outcome:
        failed = "fail" in outcome.lower()
        parts.append(f'<span class="bad-text">{escape(outcome)}</span>' if failed else escape(outcome))
    return f" — {' · '.join(parts)}" if parts else ""


def _value(value: Any) -> str:
    """A trigger parameter's value; an unset optional one (e.g. no data source: any) as "any"."""
    if value is None:
        return '<span class="muted">any</span>'
    return escape(value if isinstance(value, str) else json.dumps(value))


def _callback(redacted_url: str) -> str:
    """The (already redacted) callback URL shortened to its host, whole in the tooltip."""
    parts = urlsplit(redacted_url)
    shown = f"{parts.scheme}://{parts.netloc}/…"
    return f'<code class="url" title="{escape(redacted_url)}">{escape(shown)}</code>'


def _time(at: datetime, now: datetime) -> str:
    return f'<time datetime="{at.isoformat()}" title="{at.strftime("%Y-%m-%d %H:%M:%S UTC")}">' \
           f"{_ago(now - at)}</time>"


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 5:
        return "just now"
    return f"{_duration(delta)} ago"


def _duration(delta: timedelta | None) -> str:
    if delta is None:
        return "—"
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def _anchor(instance_id: str) -> str:
    return "instance-" + "".join(c if c.isalnum() or c == "-" else "_" for c in instance_id)


def as_view(overview: Overview) -> dict[str, Any]:
    """The view endpoint's JSON: the rendered fragment and when it was built."""
    return {"generatedAt": overview.generated_at.isoformat(), "html": render(overview)}
