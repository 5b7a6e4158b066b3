"""``studiobot chat``: the same dialogs in a terminal, for trying the product
on a fresh machine and for scripting it through standard input.

One terminal may play several people: ``--user NAME`` names the first, and
``/as NAME`` switches to another (an applicant, then the reviewer of each
level), each a person of their own; what the outbox holds for a person is
printed when the terminal plays them.

Buttons become numbered choices.  Where a question takes typed text, a bare
number is an answer, so buttons are chosen with ``#n``; elsewhere ``n`` alone
picks button n.  A line naming an existing file uploads it.  End of input
leaves cleanly: every answer was already saved when it was accepted.
"""

from __future__ import annotations

import asyncio
import getpass
import mimetypes
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from dialogs.i18n import Locale
from dialogs.notices import reply_of
from dialogs.service import Conversation
from dialogs.ui import ButtonIn, CommandIn, FileIn, Inbound, Outcome, Reply, TextIn, UserRef
from storage import outbox
from storage.models import OutboxMessage

BUTTON_RE = re.compile(r"^(#?)(\d{1,3})$")
AS_RE = re.compile(r"/as(?:\s+(.*))?", re.DOTALL)
"""``/as NAME``: the terminal plays another person from the next line on."""
NAME_CHARS = 64
COMMAND_RE = re.compile(r"/([a-z]+)(?:\s+(.*))?", re.DOTALL)


class Terminal:
    """Feeds lines to the conversation and prints its replies."""

    def __init__(
        self, conversation: Conversation, user: UserRef, out: TextIO, locale: Locale
    ) -> None:
        self.conversation = conversation
        self.user = user
        self.out = out
        self.loc = locale
        self.last: Reply | None = None

    def _print(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def show(self, outcome: Outcome) -> None:
        if outcome.toast:
            self._print(self.loc.t("cli.toast", text=outcome.toast))
        for reply in outcome.replies:
            for media in reply.media:
                key = "cli.media_photo" if media.kind == "photo" else "cli.media_file"
                self._print(self.loc.t(key, name=media.name, path=media.path or media.ref))
            self._print(reply.text)
            if reply.buttons:
                self.last = reply
                mark = "#" if reply.expects_text else ""
                n = 0
                for row in reply.buttons:
                    cells = []
                    for button in row:
                        n += 1
                        cells.append(f"[{mark}{n}] {button.label}")
                    self._print("   " + "   ".join(cells))
                self._print(self.loc.t("cli.pick_hash" if mark else "cli.pick_plain"))
            self._print("")

    def parse(self, line: str) -> Inbound | None:
        text = line.strip()
        if not text:
            return None
        switch = AS_RE.fullmatch(text)
        if switch:
            self.become((switch.group(1) or "").strip())
            return None
        command = COMMAND_RE.fullmatch(text)
        if command:  # "/start <token>" opens an invitation, as its link does in Telegram
            return CommandIn(command.group(1), (command.group(2) or "").strip())
        match = BUTTON_RE.match(text)
        if match and self.last is not None and (match.group(1) or not self.last.expects_text):
            buttons = [b for row in self.last.buttons for b in row]
            index = int(match.group(2)) - 1
            if 0 <= index < len(buttons):
                b = buttons[index]
                return ButtonIn(
                    b.action, b.arg, self.last.application_id, self.last.revision, b.key
                )
            if match.group(1):
                self._print(self.loc.t("cli.no_such_button", n=match.group(2), count=len(buttons)))
                return None
        path = Path(text).expanduser()
        if len(text) < 4096 and path.is_file():
            return _file_event(path)
        return TextIn(line.rstrip("\n"))

    def become(self, name: str) -> None:
        """Play ``name`` from now on (an applicant, a reviewer of some level...): each
        name is a person of its own, as separate Telegram accounts would be."""
        name = " ".join(name.split())[:NAME_CHARS]
        if not name:
            self._print(self.loc.t("cli.as_usage", name=self.user.external_id))
            return
        self.user = UserRef("terminal", name, name)
        self.last = None
        self._print(self.loc.t("cli.as_now", name=name))

    async def send(self, event: Inbound) -> None:
        self.show(await self.conversation.handle(self.user, event))
        await self.deliver()

    async def deliver(self) -> None:
        """Print the notifications waiting for this user (the outbox's rows addressed to
        the terminal) and mark them sent: what Telegram's sender does, between turns.

        Their buttons take ``#n`` (a bare number still answers the question), and
        the newest shown are the ones pressed, as in a chat.
        """
        async with self.conversation.sessions.begin() as session:
            rows = await outbox.take_due(
                session,
                channel=self.user.channel,
                external_id=self.user.external_id,
                now=self.conversation.clock(),
            )
        for row in rows:
            self._print(self.loc.t("outbox.terminal_header"))
            self.show(Outcome(replies=[_notice(row)]))


def _notice(row: OutboxMessage) -> Reply:
    """An outbox row as a reply whose buttons need ``#n``; without them if this version
    cannot read them."""
    try:
        reply = reply_of(row)
    except ValueError:
        reply = Reply(row.text)
    return replace(reply, expects_text=True)


def _file_event(path: Path) -> FileIn:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    kind = "photo" if mime.startswith("image/") else "document"

    async def fetch() -> bytes:
        return await asyncio.to_thread(path.read_bytes)

    return FileIn(
        kind=kind,
        file_name=path.name,
        mime_type=mime,
        size=path.stat().st_size,
        source_ref=str(path),
        fetch=fetch,
    )


async def chat(
    conversation: Conversation,
    *,
    user_name: str | None,
    stdin: TextIO,
    out: TextIO,
    locale: Locale | None = None,
) -> None:
    """Run the dialog until end of input; the terminal's own words in ``locale``."""
    name = user_name or getpass.getuser() or "local"
    terminal = Terminal(conversation, UserRef("terminal", name, name), out, locale or Locale())
    terminal._print(terminal.loc.t("cli.chat_banner"))
    await terminal.send(CommandIn("start"))
    while True:
        line = await asyncio.to_thread(stdin.readline)
        if line == "":
            break
        playing = terminal.user
        event = terminal.parse(line)
        if event is not None:
            await terminal.send(event)
        elif terminal.user != playing:
            await terminal.deliver()  # what waited for the person now played
    terminal._print(terminal.loc.t("cli.bye"))


def main_stdin() -> TextIO:
    """Standard input, read as UTF-8 whatever the locale says."""
    stream = sys.stdin
    if hasattr(stream, "reconfigure"):
        stream.reconfigure(encoding="utf-8", errors="replace")
    return stream
