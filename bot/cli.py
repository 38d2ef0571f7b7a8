"""The `gobot` command line: serve, socket, local, manifest and preview here; the reading
commands (status, history, report, windows, audit verify: `bot.cli_reading`) and those that
change the data or ask the gate (recover, migrate, gate: `bot.cli_data`) beside it. Each fails
in one line that names the problem; every time the CLI shows is UTC to the second
(`2026-12-10T14:00:00Z`), in JSON too.

Each command imports what it needs when it runs (settings, stores, Slack, the web server), so
`gobot --help` and the reading commands on the JSON store start without Bolt, FastAPI, uvicorn
or psycopg."""

from __future__ import annotations

import json
import logging
import sys
import textwrap
from typing import TYPE_CHECKING, TextIO

import click

from core.errors import GoError

if TYPE_CHECKING:
    from bot.bootstrap import Runtime

from bot.cli_data import gate, migrate, recover
from bot.cli_reading import audit, history, report, status, windows
from bot.cli_support import fail, reason_of, slack_runtime

log = logging.getLogger("gobot.cli")


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Settings come from the environment (or .env): SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, "
    "SLACK_APP_TOKEN, GOBOT_DATA_DIR, GOBOT_STORE, GOBOT_DATABASE_URL, GOBOT_SESSION_SCOPE, "
    "GOBOT_CHANNEL, GOBOT_API_KEY and more; README's Configuration table lists them all.",
)
@click.version_option(package_name="gobot", prog_name="gobot")
def main() -> None:
    """gobot: GO sessions from Slack, with snapshots, a playbook, reminders and an audit trail."""
    from bot.logs import configure_logging
    from bot.settings import SettingsError, load_settings, setting_warnings

    try:
        settings = load_settings()
    except SettingsError:  # the command itself reports it
        configure_logging("text")
        return
    configure_logging(settings.log_format, settings.secrets())
    for warning in setting_warnings(settings):
        click.echo(f"gobot: warning: {warning}", err=True)


def _say_what_runs(runtime: Runtime, how: str) -> None:
    settings = runtime.settings
    where = settings.data_dir if settings.store == "json" else "PostgreSQL"
    log.info(
        "gobot %s: store %s (%s), scope %s, channel for REST %s, REST %s, Slack at %s",
        how,
        settings.store,
        where,
        settings.session_scope,
        settings.channel or "none",
        "on" if settings.api_key else "off",
        settings.slack_api_url,
    )
    if settings.api_key is not None and settings.channel is None:
        log.warning(
            "GOBOT_API_KEY is set but GOBOT_CHANNEL is not: sessions started over REST are "
            "posted nowhere; set GOBOT_CHANNEL to the channel they belong to"
        )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=3000, show_default=True, type=int, help="Port to listen on.")
def serve(host: str, port: int) -> None:
    """Serve Slack (POST /slack/events), the REST API under /core/go/ (with GOBOT_API_KEY),
    GET /healthz and GET /metrics over HTTP."""
    from bot.web.server import run_http

    runtime = slack_runtime()
    _say_what_runs(runtime, f"serving http://{host}:{port}")
    runtime.ticker.start()
    try:
        run_http(runtime, host, port)
    finally:
        runtime.ticker.shutdown()


@main.command()
def socket() -> None:
    """Connect to Slack over Socket Mode (no public URL needed)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk.errors import SlackApiError, SlackClientError

    runtime = slack_runtime(socket_mode=True)
    assert runtime.settings.slack_app_token is not None
    _say_what_runs(runtime, "on Socket Mode")
    runtime.ticker.start()
    try:
        handler = SocketModeHandler(
            runtime.app, runtime.settings.slack_app_token.get_secret_value()
        )
        handler.start()  # type: ignore[no-untyped-call]
    except SlackApiError as exc:
        fail(f"Slack refused Socket Mode ({exc.response.get('error')}): check SLACK_APP_TOKEN")
    except (SlackClientError, OSError) as exc:
        fail(f"cannot open Socket Mode with Slack ({reason_of(exc)})")
    finally:
        runtime.ticker.shutdown()


@main.command()
@click.option(
    "--script",
    type=click.File("r"),
    default=None,
    help="Read commands from this file, one per line, instead of the terminal.",
)
def local(script: TextIO | None) -> None:
    """The whole bot in this terminal, with no Slack: type /go commands, press buttons by
    number, `wait 5s` to let reminders come, `health red "why"` to change the next snapshot,
    `exit` (or Ctrl-D) to quit. Its state is its own (`local/` in the data dir). With --script
    or piped input it exits 1 if a command failed."""
    from bot.bootstrap import usable_data_dir
    from bot.dev.local import LocalBot, local_settings
    from bot.settings import SettingsError, load_settings

    logging.getLogger().setLevel(logging.ERROR)  # the conversation is the output
    interactive = script is None and sys.stdin.isatty()
    try:
        settings = load_settings()
        usable_data_dir(settings.data_dir, writing=True)  # the demo's own dir is made in it
        bot = LocalBot(local_settings(settings), sys.stdout, interactive=interactive)
    except (SettingsError, GoError, OSError) as exc:
        fail(exc)
    source = script or sys.stdin

    def read_line() -> str | None:
        if interactive:
            try:
                return input("> ")
            except EOFError:
                return None
        line = source.readline()
        return line or None

    with bot:
        try:
            bot.run(read_line)
        except KeyboardInterrupt:
            click.echo()
    if not interactive and bot.failures:
        fail(f"{bot.failures} command(s) failed", 1)


@main.command()
@click.option("--url", default=None, help="Public base URL of `gobot serve` (https://HOST).")
@click.option("--socket", is_flag=True, help="Socket Mode instead of request URLs.")
@click.option(
    "--format", "fmt", default="json", show_default=True, type=click.Choice(["json", "yaml"])
)
def manifest(url: str | None, socket: bool, fmt: str) -> None:
    """Print the Slack app manifest to paste at api.slack.com/apps (Create New App)."""
    import yaml

    from bot.settings import SettingsError, load_settings
    from bot.slack.manifest import build_manifest

    try:
        built = build_manifest(load_settings(), url, socket)
    except (SettingsError, ValueError) as exc:
        fail(exc)
    if fmt == "yaml":
        click.echo(yaml.safe_dump(built, sort_keys=False, allow_unicode=True), nl=False)
    else:
        click.echo(json.dumps(built, indent=2, ensure_ascii=False))


class _PreviewKinds(click.Choice[str]):
    """`preview`'s kinds, read when first asked for: where they come from imports every view,
    which the other commands (and `--help`) start without."""

    def __init__(self) -> None:
        self.case_sensitive = True

    @property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        from bot.dev.preview import KINDS

        return KINDS


class _PreviewCommand(click.Command):
    """`preview`, whose help lists the kinds whole (click's wrapping breaks words at hyphens)."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from bot.dev.preview import KINDS

        width = max(formatter.width - formatter.current_indent - 2, 40)
        kinds = textwrap.wrap(", ".join(KINDS), width, break_on_hyphens=False)
        formatter.write_paragraph()
        formatter.write_text("KIND is one of:")
        with formatter.indentation():
            formatter.write_text("\n".join(["\b", *kinds]))


@main.command(cls=_PreviewCommand)
@click.argument("kind", type=_PreviewKinds(), metavar="KIND")
def preview(kind: str) -> None:
    """Print the Block Kit JSON of a message, form or App Home (KIND) for sample data, and a
    Block Kit Builder link."""
    from bot.dev.preview import builder_link, preview_payload

    payload = preview_payload(kind)
    click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    click.echo(f"\nSee it rendered: {builder_link(payload)}")


for command in (status, history, report, windows, audit, recover, gate, migrate):
    main.add_command(command)
