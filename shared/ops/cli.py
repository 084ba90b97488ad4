"""``xueji-ops``: the operator's command line.

    xueji-ops dead-letters list   --instance NAME [--amqp-url URL] [--limit N] [--json]
    xueji-ops dead-letters replay --instance NAME (--message-id ID ... | --all) [--amqp-url URL]
                                  [--signing-key FILE] [--force [--reason TEXT]
                                  [--database-url URL] [--audit-key-file PATH]]
    xueji-ops dead-letters discard --instance NAME --message-id ID ... --reason TEXT
                                  [--amqp-url URL] [--database-url URL] [--audit-key-file PATH]
    xueji-ops outbox (--database-url URL | --instance NAME) [--errors N] [--json]
    xueji-ops resend (--database-url URL | --instance NAME) --to UNIT [--to UNIT ...]
                     --since TIMESTAMP [--dry-run]
    xueji-ops transfer show ID [--national-url URL] [--token T] [--json]
    xueji-ops transfer overdue --unit UNIT [--as-of YYYY-MM-DD] [--national-url URL] [--token T]
    xueji-ops audit verify (--tier TIER | --instance NAME | --database-url URL)
                           [--key-file PATH] [--anchor SEQ:HASH | --anchor-file PATH]
                           [--since-anchor] [--json]

Defaults come from ``var/federation.json`` (``--federation`` or ``XUEJI_FEDERATION_JSON``).
Each command group is one ``add_*`` function below.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.exc import DBAPIError

from shared.audit.chain import Verification
from shared.federation.config import UnitRef
from shared.messaging.consumer import DEFAULT_INBOX_RETENTION
from shared.messaging.keys import TRUST_FILE, load_private_key, load_trust_file
from shared.messaging.signing import Signer, TrustStore
from shared.ops.audit import (
    AnchorFile,
    held_anchor,
    parse_anchor,
    record_discard,
    record_forced_replay,
    verify_chain,
)
from shared.ops.dead_letters import (
    AuditForced,
    DeadLetter,
    discard_dead_letters,
    list_dead_letters,
    replay_dead_letters,
)
from shared.ops.federation import OpsError, RunningFederation
from shared.ops.outbox import outbox_report, resend
from shared.ops.transfers import (
    NationalApi,
    national_token,
    national_url,
    print_overdue,
    print_transfer,
)

Command = Callable[[argparse.Namespace, RunningFederation, TextIO], int]


def _table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip(), file=out)


# -- dead letters ------------------------------------------------------------------------------


def _dead_letters_list(args: argparse.Namespace, fed: RunningFederation, out: TextIO) -> int:
    letters = list_dead_letters(fed.broker_url(args.amqp_url), args.instance, limit=args.limit)
    if args.json:
        for letter in letters:
            print(json.dumps(letter.summary(), ensure_ascii=False), file=out)
        return 0
    print(f"{len(letters)} dead letter(s) in xueji.{args.instance}.dead", file=out)
    if letters:
        header = (
            "MESSAGE ID",
            "TYPE",
            "ENVELOPES",
            "SOURCE",
            "TARGET",
            "SIGNED AT",
            "FAILED AT",
            "REASON",
        )
        rows = [
            (
                d.message_id,
                d.type,
                str(len(d.envelope_ids)),
                d.source,
                d.target,
                d.signed_at.isoformat(timespec="seconds") if d.signed_at else "-",
                d.failed_at,
                d.reason,
            )
            for d in letters
        ]
        _table([header, *rows], out)
    return 0


def _replay_signer(args: argparse.Namespace, fed: RunningFederation, out: TextIO) -> Signer | None:
    """The instance's own key, to attest the replay: --signing-key, the environment (inside the
    instance's pod), or the local federation's key directory."""
    path = args.signing_key or fed.signing_key_path(args.instance)
    if path is None:
        print(
            "no signing key of the instance: replaying without an attestation (a message "
            "older than the receivers' window is refused again)",
            file=out,
        )
        return None
    try:
        key = load_private_key(Path(path))
    except (OSError, ValueError) as exc:
        raise OpsError(f"cannot read the signing key {path}: {exc}") from exc
    key_id = os.environ.get("XUEJI_SIGNING_KEY_ID") or args.instance
    return Signer(key_id, key)


def _audit_target(args: argparse.Namespace, fed: RunningFederation) -> tuple[str, bytes | None]:
    """The instance's own database (--database-url, else the local federation's SQLite file)
    and its audit key (--audit-key-file, else XUEJI_AUDIT_KEY), where operator acts on its
    dead letters are audited."""
    url = args.database_url or fed.sqlite_url(args.instance)
    if args.audit_key_file:
        key: bytes | None = args.audit_key_file.read_bytes().strip()
    else:
        key = os.environ.get("XUEJI_AUDIT_KEY", "").encode() or None
    return url, key


def _replay_audit(args: argparse.Namespace, fed: RunningFederation) -> AuditForced | None:
    """Where a forced replay of a security refusal is audited (:func:`_audit_target`)."""
    if args.reason is not None and not args.force:
        raise OpsError("--reason goes with --force")
    if not args.force or not (args.reason or "").strip():
        return None
    url, key = _audit_target(args, fed)
    operator = f"ops:{getpass.getuser()}"

    def audit(letter: DeadLetter, reason: str) -> None:
        record_forced_replay(
            url,
            operator=operator,
            message_id=letter.message_id,
            unit=letter.target,
            refusal=letter.security or "?",
            reason=reason,
            key=key,
        )

    return audit


def _dead_letters_replay(args: argparse.Namespace, fed: RunningFederation, out: TextIO) -> int:
    ids = None if args.all else list(args.message_ids)
    audit = _replay_audit(args, fed)
    signer = _replay_signer(args, fed, out)
    report = replay_dead_letters(
        fed.broker_url(args.amqp_url),
        args.instance,
        message_ids=ids,
        signer=signer,
        inbox_retention=timedelta(days=args.inbox_retention_days),
        force=args.force,
        reason=args.reason,
        audit=audit,
    )
    forced = set(report.forced)
    for message_id in report.replayed:
        note = " (security refusal, forced; audited)" if message_id in forced else ""
        print(f"replayed  {message_id}{note}", file=out)
    for message_id, why in report.refused.items():
        print(f"kept      {message_id}: {why}", file=out)
    for message_id in report.not_found:
        print(f"not found {message_id}", file=out)
    print(
        f"{len(report.replayed)} replayed, {len(report.refused)} kept, "
        f"{len(report.not_found)} not found",
        file=out,
    )
    return 0 if not report.refused and not report.not_found else 1


def _dead_letters_discard(args: argparse.Namespace, fed: RunningFederation, out: TextIO) -> int:
    url, key = _audit_target(args, fed)
    operator = f"ops:{getpass.getuser()}"

    def audit(letter: DeadLetter, reason: str) -> None:
        record_discard(
            url,
            operator=operator,
            message_id=letter.message_id,
            unit=letter.target,
            failure=letter.security or letter.reason,
            reason=reason,
            key=key,
        )

    report = discard_dead_letters(
        fed.broker_url(args.amqp_url),
        args.instance,
        message_ids=args.message_ids,
        reason=args.reason,
        audit=audit,
    )
    for message_id in report.discarded:
        print(f"discarded {message_id} (audited)", file=out)
    for message_id in report.not_found:
        print(f"not found {message_id}", file=out)
    print(f"{len(report.discarded)} discarded, {len(report.not_found)} not found", file=out)
    return 0 if not report.not_found else 1


def add_dead_letters(commands: argparse._SubParsersAction[Any]) -> None:
    group = commands.add_parser(
        "dead-letters", help="inspect and replay an instance's dead letters"
    )
    actions = group.add_subparsers(dest="action", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--instance", required=True, help="instance name, e.g. school-41")
    common.add_argument("--amqp-url", help="broker URL (default: from federation.json)")

    listing = actions.add_parser("list", parents=[common], help="show dead letters (not consumed)")
    listing.add_argument("--limit", type=int, default=None, help="show at most N")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(run=_dead_letters_list)

    replay = actions.add_parser("replay", parents=[common], help="republish dead letters")
    chosen = replay.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--message-id", dest="message_ids", action="append", metavar="ID")
    chosen.add_argument("--all", action="store_true", help="every dead letter of the instance")
    replay.add_argument(
        "--inbox-retention-days",
        type=int,
        default=DEFAULT_INBOX_RETENTION.days,
        help="the instance's XUEJI_INBOX_RETENTION in days (default %(default)s): older dead"
        " letters are kept unless --force",
    )
    replay.add_argument(
        "--force",
        action="store_true",
        help="replay dead letters signed before the inbox's memory (after checking them); with"
        " --reason, also security refusals (expired, forged, sender not allowed …)",
    )
    replay.add_argument(
        "--reason",
        help="why security refusals are replayed anyway: written to the instance's audit trail"
        " (with --force)",
    )
    replay.add_argument(
        "--database-url",
        help="the instance's database, for the audit entry of a forced replay (default: the"
        " local federation's SQLite file)",
    )
    replay.add_argument(
        "--audit-key-file",
        type=Path,
        help="file holding the instance's XUEJI_AUDIT_KEY (default: the environment)",
    )
    replay.add_argument(
        "--signing-key",
        type=Path,
        help="the instance's private signing key (default: XUEJI_SIGNING_KEY_FILE, else the "
        "local federation's keys directory)",
    )
    replay.set_defaults(run=_dead_letters_replay)

    discard = actions.add_parser(
        "discard",
        parents=[common],
        help="remove named dead letters for good (never applied), audited with a reason",
    )
    discard.add_argument(
        "--message-id", dest="message_ids", action="append", metavar="ID", required=True
    )
    discard.add_argument(
        "--reason", required=True, help="why: written to the instance's audit trail first"
    )
    discard.add_argument(
        "--database-url",
        help="the instance's database, for the audit entry (default: the local federation's"
        " SQLite file)",
    )
    discard.add_argument(
        "--audit-key-file",
        type=Path,
        help="file holding the instance's XUEJI_AUDIT_KEY (default: the environment)",
    )
    discard.set_defaults(run=_dead_letters_discard)


# -- outbox ------------------------------------------------------------------------------------


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _outbox(args: argparse.Namespace, fed: RunningFederation, out: TextIO) -> int:
    if not args.database_url and not args.instance:
        raise OpsError("pass --database-url or --instance")
    url = args.database_url or fed.sqlite_url(args.instance)
    try:
        report = outbox_report(url, errors=args.errors)
    except DBAPIError as exc:
        raise OpsError(f"cannot read the outbox: {exc.orig!r}") from exc
    now = datetime.now(UTC)
    if args.json:
        print(
            json.dumps(
                {
                    "unsent": report.unsent,
                    "oldest_unsent_at": report.oldest_unsent_at,
                    "oldest_unsent_age_seconds": report.oldest_age_seconds(now),
                    "sent_retained": report.sent_retained,
                    "errors": [vars(e) for e in report.errors],
                },
                default=str,
            ),
            file=out,
        )
        return 0
    oldest = report.oldest_unsent_at.isoformat() if report.oldest_unsent_at else "-"
    print(
        f"unsent: {report.unsent}   oldest unsent: {oldest} "
        f"({_age(report.oldest_age_seconds(now))} ago)   sent, retained: {report.sent_retained}",
        file=out,
    )
    if report.errors:
        print("last errors:", file=out)
        header = ("MESSAGE ID", "TYPE", "ATTEMPTS", "NEXT ATTEMPT", "ERROR")
        _table(
            [header]
            + [
                (e.message_id, e.type, str(e.attempts), e.next_attempt_at.isoformat(), e.last_error)
                for e in report.errors
            ],
            out,
        )
    return 0


def add_outbox(commands: argparse._SubParsersAction[Any]) -> None:
    parser = commands.add_parser("outbox", help="an instance's outbox: backlog and last errors")
    parser.add_argument("--database-url", help="SQLAlchemy URL of the instance's database")
    parser.add_argument("--instance", help="a locally run instance (its SQLite file under var/)")
    parser.add_argument("--errors", type=int, default=10, help="show the N latest errors")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(run=_outbox)


# -- transfers ---------------------------------------------------------------------------------


def _national(args: argparse.Namespace, fed: RunningFederation) -> NationalApi:
    url = national_url(fed, args.national_url)
    return NationalApi(url, token=national_token(fed, url, args.token))


def _transfer_show(args: argparse.Namespace, fed: RunningFederation, out: TextIO) -> int:
    body = _national(args, fed).transfer(args.transfer_id)
    if args.json:
        print(json.dumps(body, ensure_ascii=False), file=out)
    else:
        print_transfer(body, out, _table)
    return 0


def _transfer_overdue(args: argparse.Namespace, fed: RunningFederation, out: TextIO) -> int:
    body = _national(args, fed).overdue(args.unit, args.as_of)
    if args.json:
        print(json.dumps(body, ensure_ascii=False), file=out)
    else:
        print_overdue(body, out, _table)
    return 0


def add_transfer(commands: argparse._SubParsersAction[Any]) -> None:
    group = commands.add_parser("transfer", help="transfers, as national runs them")
    actions = group.add_subparsers(dest="action", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--national-url", help="national base URL (default: federation.json)")
    common.add_argument("--json", action="store_true", help="the API's JSON as it is")
    common.add_argument("--token", help="bearer token (default: XUEJI_TOKEN, or dev login)")

    show = actions.add_parser("show", parents=[common], help="a transfer and all its steps")
    show.add_argument("transfer_id", metavar="ID")
    show.set_defaults(run=_transfer_show)

    overdue = actions.add_parser(
        "overdue", parents=[common], help="open steps past due of a party or superior unit"
    )
    overdue.add_argument("--unit", required=True, help="e.g. county:410102 or national:CN")
    overdue.add_argument(
        "--as-of",
        type=date.fromisoformat,
        default=None,
        help="the day to judge by (default: national's today)",
    )
    overdue.set_defaults(run=_transfer_overdue)


# -- audit -------------------------------------------------------------------------------------


def _audit_databases(args: argparse.Namespace, fed: RunningFederation) -> list[tuple[str, str]]:
    """(name, URL) of every database to verify: the URL given, an instance, or a tier's."""
    if args.database_url:
        return [(args.instance or args.tier or "database", args.database_url)]
    if args.instance:
        return [(args.instance, fed.sqlite_url(args.instance))]
    names = [str(i["name"]) for i in fed.instances if i.get("tier") == args.tier]
    if not names:
        raise OpsError(f"no {args.tier} instance in {fed.path}: pass --database-url")
    return [(name, fed.sqlite_url(name)) for name in names]


def _audit_verify(args: argparse.Namespace, fed: RunningFederation, out: TextIO) -> int:
    if not (args.database_url or args.instance or args.tier):
        raise OpsError("pass --tier, --instance or --database-url")
    key = args.key_file.read_bytes().strip() if args.key_file else None
    try:
        given = parse_anchor(args.anchor) if args.anchor else None
    except ValueError as exc:
        raise OpsError(str(exc)) from exc
    anchors = AnchorFile(args.anchor_file) if args.anchor_file else None
    trust = _anchor_trust(args, fed)
    broken = 0
    for name, url in _audit_databases(args, fed):
        anchor = given
        if anchors is not None:
            anchor = anchors.last(name)
        elif anchor is None and not args.no_held_anchors:
            anchor = _anchor_held_above(args, fed, name, url, trust, out)
        try:
            result = verify_chain(url, key=key, anchor=anchor, since_anchor=args.since_anchor)
        except DBAPIError as exc:
            raise OpsError(f"cannot read the audit chain of {name}: {exc.orig!r}") from exc
        if args.json:
            print(
                json.dumps(
                    {
                        "database": name,
                        "ok": result.ok,
                        "entries": result.entries,
                        "head": f"{result.head_seq}:{result.head_hash}",
                        "anchor": f"{anchor[0]}:{anchor[1]}" if anchor else None,
                        "broken_seq": result.broken.seq if result.broken else None,
                        "reason": result.broken.reason if result.broken else None,
                        "pending": result.pending,
                        "oldest_pending": (
                            result.oldest_pending.isoformat() if result.oldest_pending else None
                        ),
                    }
                ),
                file=out,
            )
        elif result.broken is None:
            print(
                f"{name}: ok, {result.entries} entries; "
                f"head (keep it as an anchor) {result.head_seq}:{result.head_hash}"
                + _pending_note(result),
                file=out,
            )
        else:
            print(
                f"{name}: BROKEN at entry {result.broken.seq}: {result.broken.reason} "
                f"({result.entries} entries verified before it)" + _pending_note(result),
                file=out,
            )
        broken += 0 if result.ok else 1
        if anchors is not None and result.ok:
            anchors.record(name, result.head_seq, result.head_hash)
    return 1 if broken else 0


def _anchor_trust(args: argparse.Namespace, fed: RunningFederation) -> TrustStore | None:
    path = args.trusted_keys
    if path is None and fed.keys_dir is not None:
        path = fed.keys_dir / TRUST_FILE
    return load_trust_file(path) if path is not None and path.exists() else None


def _anchor_held_above(
    args: argparse.Namespace,
    fed: RunningFederation,
    name: str,
    url: str,
    trust: TrustStore | None,
    out: TextIO,
) -> tuple[int, str] | None:
    """The latest signed anchor of ``name`` kept above it (decision 0027): in the databases
    given with ``--anchors-from``, else in every other database of the local federation."""
    sources = list(args.anchors_from or [])
    if not sources:
        for other in fed.instance_names:
            with contextlib.suppress(OpsError):
                if other != name and fed.sqlite_url(other) != url:
                    sources.append(fed.sqlite_url(other))
    if not sources:
        return None
    try:
        anchor, problems = held_anchor(name, sources, trust)
    except DBAPIError as exc:
        raise OpsError(f"cannot read the anchors of {name}: {exc.orig!r}") from exc
    for problem in problems:
        print(f"{name}: anchor refused: {problem}", file=out)
    if anchor is not None and not args.json:
        checked = (
            "signature checked" if trust is not None else "signature NOT checked: no trust file"
        )
        print(f"{name}: anchor held above: {anchor[0]}:{anchor[1]} ({checked})", file=out)
    return anchor


def add_audit(commands: argparse._SubParsersAction[Any]) -> None:
    group = commands.add_parser("audit", help="the audit trail of a service's database")
    actions = group.add_subparsers(dest="action", required=True)
    check = actions.add_parser(
        "verify", help="walk the hash chain; exit 1 at the first edited, deleted or moved entry"
    )
    check.add_argument(
        "--tier",
        choices=["national", "province", "county", "school"],
        help="every instance of this tier in federation.json",
    )
    check.add_argument("--instance", help="a locally run instance (its SQLite file under var/)")
    check.add_argument("--database-url", help="SQLAlchemy URL of the service's database")
    check.add_argument(
        "--key-file", type=Path, help="file holding XUEJI_AUDIT_KEY, if the service chains with one"
    )
    anchored = check.add_mutually_exclusive_group()
    anchored.add_argument(
        "--anchor",
        metavar="SEQ:HASH",
        help="a head printed by an earlier run: it must still be in the chain",
    )
    anchored.add_argument(
        "--anchor-file",
        type=Path,
        metavar="PATH",
        help="check each database against the head recorded there by the "
        "last run, then record the current head (keep it off the database host)",
    )
    check.add_argument(
        "--since-anchor",
        action="store_true",
        help="trust the chain up to the anchor: check it is still there and "
        "walk only the entries after it",
    )
    check.add_argument(
        "--anchors-from",
        action="append",
        metavar="URL",
        help="database (read-only) of a unit above the instance, holding the anchors it sent "
        "(audit.anchored); repeatable. Default: every other database of the local federation",
    )
    check.add_argument(
        "--trusted-keys",
        type=Path,
        help="the federation's trust file, to check the anchors' signatures "
        "(default: the local federation's)",
    )
    check.add_argument(
        "--no-held-anchors", action="store_true", help="do not look for anchors held above"
    )
    check.add_argument("--json", action="store_true", help="one JSON object per database")
    check.set_defaults(run=_audit_verify)


# -- entry point -------------------------------------------------------------------------------

# -- resend: reconcile a tier restored from a backup -------------------------------------------


def _timestamp(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 timestamp: {text!r}") from exc
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give the time zone, e.g. {text}+08:00")
    return value


def _unit(text: str) -> UnitRef:
    try:
        return UnitRef.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a unit (tier:code): {text!r}") from exc


def _resend(args: argparse.Namespace, fed: RunningFederation, out: TextIO) -> int:
    if not args.database_url and not args.instance:
        raise OpsError("pass --database-url or --instance")
    url = args.database_url or fed.sqlite_url(args.instance)
    try:
        count = resend(url, args.to, args.since, dry_run=args.dry_run)
    except DBAPIError as exc:
        raise OpsError(f"cannot read the outbox: {exc.orig!r}") from exc
    units = ", ".join(str(u) for u in args.to)
    verb = "would re-send" if args.dry_run else "re-sending"
    print(f"{verb} {count} message(s) sent to {units} since {args.since.isoformat()}", file=out)
    return 0


def add_resend(commands: argparse._SubParsersAction[Any]) -> None:
    parser = commands.add_parser(
        "resend",
        help="publish again what this sender sent to a restored instance's units since a time",
        description=(
            "Run against every instance that sends to the restored one (its database). The "
            "rows sent to the units at or after --since are marked unsent and the running "
            "relay publishes them again; the restored receiver applies what its inbox no "
            "longer remembers and drops the rest as duplicates (docs/runbook.md)."
        ),
    )
    parser.add_argument("--database-url", help="SQLAlchemy URL of the sender's database")
    parser.add_argument("--instance", help="a locally run sender (its SQLite file under var/)")
    parser.add_argument(
        "--to",
        type=_unit,
        action="append",
        required=True,
        help="a unit the restored instance hosts, e.g. province:41 (repeat for each)",
    )
    parser.add_argument(
        "--since",
        type=_timestamp,
        required=True,
        help="the backup's time minus a margin (ISO 8601 with time zone)",
    )
    parser.add_argument("--dry-run", action="store_true", help="count, change nothing")
    parser.set_defaults(run=_resend)


COMMAND_GROUPS = (add_dead_letters, add_outbox, add_resend, add_transfer, add_audit)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="xueji-ops", description="Xueji operator tools.")
    root.add_argument(
        "--federation",
        type=Path,
        default=None,
        help="the running federation's description (default var/federation.json)",
    )
    commands = root.add_subparsers(dest="command", required=True)
    for add in COMMAND_GROUPS:
        add(commands)
    return root


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    args = parser().parse_args(argv)
    out = out or sys.stdout
    run: Command = args.run
    try:
        return run(args, RunningFederation.load(args.federation), out)
    except OpsError as exc:
        print(f"xueji-ops: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())


def _pending_note(result: Verification) -> str:
    """Entries written but not chained yet (deferred chaining, decision 0048): not covered by
    the chain until the chainer links them; old ones mean the chainer is not running."""
    if not result.pending:
        return ""
    oldest = result.oldest_pending.isoformat() if result.oldest_pending else "?"
    return f"; {result.pending} entries pending, not chained yet (oldest written {oldest})"
