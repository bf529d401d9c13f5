"""The ``example.mail_provider`` module: who runs a company's email, from its DNS.

The MX records name the servers that receive the domain's mail (Google Workspace, Microsoft 365,
or a security gateway such as Proofpoint in front of them); the SPF record (a TXT record starting
``v=spf1``) lists the services allowed to send mail as the domain (SendGrid, Mailchimp,
Salesforce ...). Both are public facts any resolver answers.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec
import trio
from enrichd.plugins import (
    ModuleContext,
    ModuleResult,
    ModuleSpec,
    NoData,
    Source,
    first_available,
    module_options,
)

from ._doh import CLOUDFLARE, GOOGLE, Records, lookup, txt_string

MODULE_ID = "example.mail_provider"

#: MX host suffix -> (provider, kind). A "gateway" filters mail before the mailbox provider.
MX_PROVIDERS: dict[str, tuple[str, str]] = {
    "google.com": ("Google Workspace", "mailbox"),
    "googlemail.com": ("Google Workspace", "mailbox"),
    "outlook.com": ("Microsoft 365", "mailbox"),
    "zoho.com": ("Zoho Mail", "mailbox"),
    "zoho.eu": ("Zoho Mail", "mailbox"),
    "messagingengine.com": ("Fastmail", "mailbox"),
    "protonmail.ch": ("Proton Mail", "mailbox"),
    "yandex.net": ("Yandex 360", "mailbox"),
    "secureserver.net": ("GoDaddy", "mailbox"),
    "icloud.com": ("iCloud Mail", "mailbox"),
    "pphosted.com": ("Proofpoint", "gateway"),
    "ppe-hosted.com": ("Proofpoint Essentials", "gateway"),
    "mimecast.com": ("Mimecast", "gateway"),
    "iphmx.com": ("Cisco Secure Email", "gateway"),
    "barracudanetworks.com": ("Barracuda", "gateway"),
    "messagelabs.com": ("Broadcom Email Security", "gateway"),
}

#: SPF ``include:`` suffix -> the service allowed to send as the domain.
SPF_SENDERS: dict[str, str] = {
    "_spf.google.com": "Google Workspace",
    "spf.protection.outlook.com": "Microsoft 365",
    "sendgrid.net": "SendGrid",
    "mailgun.org": "Mailgun",
    "servers.mcsv.net": "Mailchimp",
    "spf.mandrillapp.com": "Mailchimp Transactional",
    "amazonses.com": "Amazon SES",
    "_spf.salesforce.com": "Salesforce",
    "mail.zendesk.com": "Zendesk",
    "hubspotemail.net": "HubSpot",
    "spf.sendinblue.com": "Brevo",
    "mktomail.com": "Marketo",
    "_spf.intercom.io": "Intercom",
    "spf.freshdesk.com": "Freshdesk",
    "zoho.com": "Zoho Mail",
}


class MailOptions(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``[modules."example.mail_provider"]``: checked at start-up (the spec's options_type)."""

    #: More MX host suffixes, e.g. ``{"mx.acme-hosting.net" = "Acme Hosting"}`` (mailboxes).
    providers: dict[str, str] = msgspec.field(default_factory=dict)
    #: More SPF include suffixes, e.g. ``{"spf.acme-mailer.com" = "Acme Mailer"}``.
    senders: dict[str, str] = msgspec.field(default_factory=dict)
    #: Also read the SPF record (one more DNS query per domain).
    spf: bool = True


def _suffix_match(host: str, table: dict[str, Any]) -> Any:
    """The value of the longest suffix of ``host`` in ``table`` (at a label boundary)."""
    labels = host.lower().rstrip(".").split(".")
    for i in range(len(labels)):
        value = table.get(".".join(labels[i:]))
        if value is not None:
            return value
    return None


def mx_records(records: Records) -> list[dict[str, Any]]:
    """``"10 aspmx.l.google.com."`` answers as ``{"priority", "host"}``, preferred first."""
    out = []
    for data in records.data:
        priority, _, host = data.strip().partition(" ")
        if priority.isdigit() and host.strip(". "):
            out.append({"priority": int(priority), "host": host.strip().rstrip(".").lower()})
    return sorted(out, key=lambda r: (r["priority"], r["host"]))


def spf_record(records: Records) -> str | None:
    """The domain's SPF policy among its TXT records, or ``None``."""
    for data in records.data:
        text = txt_string(data).strip()
        if text.lower().startswith("v=spf1"):
            return text
    return None


def spf_senders(spf: str, extra: dict[str, str]) -> list[str]:
    """The services an SPF policy's ``include:`` and ``redirect=`` terms name, in order."""
    table = {**SPF_SENDERS, **extra}
    found: list[str] = []
    for raw in spf.split()[1:]:
        term = raw.lstrip("+?~-").lower()  # the qualifier does not change who is named
        for prefix in ("include:", "redirect="):
            if term.startswith(prefix):
                name = _suffix_match(term[len(prefix) :], table)
                if name is not None and name not in found:
                    found.append(name)
    return found


def describe(mx: list[dict[str, Any]], senders: list[str], options: MailOptions) -> dict[str, Any]:
    """The mail provider and security gateway the MX records show, and what showed the
    provider: ``"mx"``, or ``"spf"`` when a gateway hides it and the SPF record names it."""
    table = {**MX_PROVIDERS, **{k: (v, "mailbox") for k, v in options.providers.items()}}
    provider: str | None = None
    gateway: str | None = None
    for record in mx:  # preferred first: the first match is the one receiving the mail
        match = _suffix_match(record["host"], table)
        if match is None:
            continue
        name, kind = match
        if kind == "gateway":
            gateway = gateway or name
        else:
            provider = provider or name
    evidence = "mx" if provider is not None else None
    if provider is None and gateway is not None:
        # Behind a gateway the mailbox host is hidden; the SPF record usually names it.
        mailboxes = {name for name, kind in table.values() if kind == "mailbox"}
        provider = next((s for s in senders if s in mailboxes), None)
        evidence = "spf" if provider is not None else None
    return {"mail_provider": provider, "provider_evidence": evidence, "security_gateway": gateway}


def count_points(data: Any) -> int:
    """enrichd's ``data_points`` convention: every non-empty scalar leaf counts once."""
    if data is None or data == "" or data is False:
        return 0
    if isinstance(data, dict):
        return sum(count_points(v) for v in data.values())
    if isinstance(data, list):
        return sum(count_points(v) for v in data)
    return 1


async def _read_dns(domain: str, spf: bool, source: Source) -> tuple[Records, Records | None]:
    """The MX records and (when ``spf``) the TXT records of ``domain``, queried together."""
    found: dict[str, Records] = {}

    async def one(rrtype: str) -> None:
        found[rrtype] = await lookup(source, domain, rrtype)

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(one, "MX")
            if spf:
                nursery.start_soon(one, "TXT")
    except BaseExceptionGroup as group:
        # One meaningful error (a NoData, an upstream_error) for the fallback chain, not a group.
        first = group.exceptions[0]
        if isinstance(first, Exception) and not isinstance(first, BaseExceptionGroup):
            raise first from None
        raise
    return found["MX"], found.get("TXT")


async def run(ctx: ModuleContext) -> ModuleResult:
    """The module: MX and SPF through Google's resolver, Cloudflare's when it cannot answer."""
    options = module_options(ctx, MailOptions)
    read = functools.partial(_read_dns, ctx.domain, options.spf)
    served = await first_available(ctx, [(GOOGLE, read), (CLOUDFLARE, read)])
    mx_answer, txt_answer = served.value
    mx = mx_records(mx_answer)
    spf = spf_record(txt_answer) if txt_answer is not None else None
    senders = spf_senders(spf, options.senders) if spf else []
    if not mx and spf is None:
        raise NoData(f"{ctx.domain} has no MX or SPF record", source=served.source)
    data = {**describe(mx, senders, options), "mx_records": mx, "spf_senders": senders}
    data["spf_record"] = spf
    citations = [mx_answer.citation]
    if spf is not None and txt_answer is not None:
        citations.append(txt_answer.citation)
    return ModuleResult(
        data=data,
        data_points=count_points(data),
        citations=citations,
        source=served.source,
        source_url=mx_answer.citation.url,
        warnings=served.warnings,
    )


MODULE = ModuleSpec(
    id=MODULE_ID,
    # Wave 4, with the other sales signals; it needs no other module's data.
    wave=4,
    description="Mail provider, security gateway and sending services, from MX and SPF records",
    run=run,
    sources=(GOOGLE, CLOUDFLARE),
    # Companies rarely move their mail; a week-old answer is still right.
    ttl_seconds=7 * 86400,
    options_type=MailOptions,
)
