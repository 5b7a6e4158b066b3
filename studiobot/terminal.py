"""``studiobot chat``: the same dialogs in a terminal, for trying the product
on a fresh machine and for scripting it through standard input.

One terminal may play several people: ``--user NAME`` names the first, and
``/as NAME`` switches to another (an applicant, then the reviewer of each
level), each a person of their own; what the outbox holds for a person is
printed when the terminal plays them.

A question's own buttons (options, suggestions, rows) become numbered
choices.  Where a question takes typed text, a bare number is an answer, so
they are chosen with ``#n``; elsewhere ``n`` alone picks button n.  The buttons
that move through the form (上一步, 跳过, 保存并退出, 完成 …: ``dialogs.words``)
are shown as words to type, never numbered, so a number keeps one meaning
from screen to screen; the word typed is understood by the dialog itself, as
in Telegram.

A line that looks like a path (``/…``, ``~/…``, ``./…``, ``../…``, maybe in
quotes or with backslash-escaped spaces, as dragging a file into a terminal
writes it) uploads that file, whose type its bytes decide; a path that names
no readable file is said so, and nothing is sent.  Every other line is text,
however long.  End of input leaves cleanly: every answer was already saved
when it was accepted.

The terminal greets by the name its user gives: asked once, when no name is
known for the person and a person sits at the terminal (standard input is a
terminal), and kept on the person; a scripted run is never asked.
"""

from __future__ import annotations

import asyncio
import getpass
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from dialogs import words
from dialogs.i18n import Locale
from dialogs.notices import reply_of
from dialogs.service import Conversation
from dialogs.textfit import clean_text
from dialogs.ui import (
    Action,
    Button,
    ButtonIn,
    CommandIn,
    FileIn,
    Inbound,
    Outcome,
    Reply,
    TextIn,
    UserRef,
)
from storage import outbox, repo
from storage.files import sniff_mime
from storage.models import OutboxMessage

BUTTON_RE = re.compile(r"^(#?)(\d{1,3})$")
AS_RE = re.compile(r"/as(?:\s+(.*))?", re.DOTALL)
"""``/as NAME``: the terminal plays another person from the next line on."""
NAME_CHARS = 64
COMMAND_RE = re.compile(r"/([a-z]+)(?:\s+(.*))?", re.DOTALL)
PATH_START_RE = re.compile(r"(?:~[\w.-]*|\.\.?)?/\S|[A-Za-z]:[\\/]\S")
"""How a path begins: ``/``, ``~/``, ``~user/``, ``./``, ``../`` (or ``C:\\``)."""
EXTENSION_RE = re.compile(r"\.[A-Za-z0-9]{1,8}$")
ESCAPE_RE = re.compile(r"\\(.)")
DRIVE_RE = re.compile(r"[A-Za-z]:\\")
SNIFF_BYTES = 65536
"""Enough of a file's start to tell its type (``sniff_mime``)."""


def path_candidate(text: str) -> str | None:
    """The path ``text`` names if it looks like one, else None (then it is text).

    A path starts as a path does and is one line; quotes around it ('…' or
    "…", what dragging a file into a terminal may write) are taken off, and
    outside quotes backslash-escaped characters (``My\\ Photos``) unescaped.
    A lone ``/…`` needs a second ``/`` or a file extension besides, since
    「/」 and 「/无」 are what people write for "none"; slashes inside an answer
    (2024/3, 机械/电气) never start it.
    """
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        inner = text[1:-1]
    elif DRIVE_RE.match(text):  # C:\Users\…: backslashes are its separators
        inner = text
    else:
        inner = ESCAPE_RE.sub(r"\1", text)
    if "\n" in inner or not PATH_START_RE.match(inner):
        return None
    if inner.startswith("/") and inner.count("/") < 2 and not EXTENSION_RE.search(inner):
        return None
    return inner


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
                self._buttons(reply)
            self._print("")

    def _buttons(self, reply: Reply) -> None:
        """The question's own buttons numbered, row by row, then the navigation as
        words to type, and one line saying how to use them."""
        mark = "#" if reply.expects_text else ""
        n = 0
        for row in reply.buttons:
            cells = []
            for button in row:
                if not words.is_nav(button.action):
                    n += 1
                    cells.append(f"[{mark}{n}] {button.label}")
            if cells:
                self._print("   " + "   ".join(cells))
        nav = [b for row in reply.buttons for b in row if words.is_nav(b.action)]
        if nav:
            said = [self.loc.t("cli.word", word=words.shown_word(b.action, self.loc)) for b in nav]
            self._print("   " + " ".join(said))
        how = "cli.pick_hash" if mark else "cli.pick_plain"
        if nav:
            how = how + "_words" if n else "cli.pick_words"
        self._print(self.loc.t(how))

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
            return self._press(self.last, match.group(1), match.group(2))
        if self.last is not None and not self.last.expects_text:
            chosen = self._by_label(self.last, text)
            if chosen is not None:
                return chosen
        path = path_candidate(text)
        if path is not None:
            return self._upload(path)
        return TextIn(line.rstrip("\n"))

    def _by_label(self, reply: Reply, text: str) -> Inbound | None:
        """A numbered button named in words where no text is expected: its label
        (确认提交, 确认添加 3 行), or 提交 typed again at the confirmation that 提交
        brought, which is what the person means."""
        said = words.squeeze(text)
        wanted = words.named(text, self.loc)
        for b in numbered(reply):
            if (said and words.squeeze(b.label) == said) or (
                wanted is Action.SUBMIT and b.action is Action.SUBMIT_OK
            ):
                return ButtonIn(b.action, b.arg, reply.application_id, reply.revision, b.key)
        return None

    def _press(self, reply: Reply, mark: str, number: str) -> Inbound | None:
        """Numbered button ``number`` of ``reply`` (its own buttons, navigation left
        out); a bare number beyond them is text, ``#n`` beyond them is said."""
        buttons = numbered(reply)
        index = int(number) - 1
        if 0 <= index < len(buttons):
            b = buttons[index]
            return ButtonIn(b.action, b.arg, reply.application_id, reply.revision, b.key)
        if mark:
            self._print(self.loc.t("cli.no_such_button", n=number, count=len(buttons)))
            return None
        return TextIn(number)

    def _upload(self, shown: str) -> FileIn | None:
        """The file at ``shown`` as an upload, or None after saying why there is
        none (no such file, a folder, unreadable): nothing is sent then."""
        try:
            path = Path(shown).expanduser()
            if path.is_file():
                return _file_event(path)
            key = "cli.not_a_file" if path.exists() else "cli.no_such_file"
            self._print(self.loc.t(key, path=shown))
        except (RuntimeError, ValueError):  # ~nobody/…: no such home; a NUL in the name
            self._print(self.loc.t("cli.no_such_file", path=shown))
        except OSError as exc:  # unreadable, a name too long for the system...
            self._print(self.loc.t("cli.unreadable_file", path=shown, error=exc.strerror or exc))
        return None

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

    async def known_name(self) -> str:
        """The name the person played is greeted by, "" if none is kept (an older
        version kept the login name: that is no name given)."""
        async with self.conversation.sessions() as session:
            person, _ = await repo.load_user(
                session, channel=self.user.channel, external_id=self.user.external_id, lock=False
            )
        name = person.display_name if person is not None else ""
        return "" if name == getpass.getuser() else name

    async def introduce(self, stdin: TextIO, *, asking: bool, given: str) -> str:
        """Make sure the person played has a name to be greeted by: the one kept, else
        the one typed when ``asking`` (once: it is kept on the person), else ``given``.

        A command typed instead of a name (``/apply``) is no name: it is returned,
        to be read as the first line of the dialog; else "" is returned."""
        if await self.known_name():
            return ""
        name, rest = given, ""
        if asking:
            self._print(self.loc.t("cli.ask_name"))
            typed = " ".join(clean_text(await asyncio.to_thread(stdin.readline)).split())
            if typed.startswith("/"):
                rest = typed
            else:
                name = typed[:NAME_CHARS] or given
        if name:
            self.user = replace(self.user, display_name=name)
        return rest

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


def numbered(reply: Reply) -> list[Button]:
    """The buttons of ``reply`` that take a number: all but the navigation."""
    return [b for row in reply.buttons for b in row if not words.is_nav(b.action)]


def _file_event(path: Path) -> FileIn:
    """An upload of the file at ``path``: its type read from its first bytes, never
    from its name (a text file called ``.jpg`` is no photo); OSError if unreadable."""
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    mime = sniff_mime(head)
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
        kept=False,
    )


async def chat(
    conversation: Conversation,
    *,
    user_name: str | None,
    stdin: TextIO,
    out: TextIO,
    locale: Locale | None = None,
    database: str = "",
    ask_name: bool | None = None,
) -> None:
    """Run the dialog until end of input; the terminal's own words in ``locale``.

    ``user_name`` (``--user``) says which person plays, else the login name does
    (which is never a greeting).  ``database`` is said at the start (where the
    drafts live).  ``ask_name`` (default: whether ``stdin`` is a terminal) lets the
    terminal ask a person it knows no name for how to greet them; a run that is
    not asked greets by ``user_name``, if given, so a scripted run reads its
    first line as the dialog's, as it always did.
    """
    who = user_name or getpass.getuser() or "local"
    terminal = Terminal(conversation, UserRef("terminal", who), out, locale or Locale())
    terminal._print(terminal.loc.t("cli.chat_banner"))
    if database:
        terminal._print(terminal.loc.t("cli.chat_database", where=database))
    asking = stdin.isatty() if ask_name is None else ask_name
    line = await terminal.introduce(stdin, asking=asking, given=user_name or "")
    await terminal.send(CommandIn("start"))
    while True:
        line = line or await asyncio.to_thread(stdin.readline)
        if line == "":
            break
        playing = terminal.user
        event = terminal.parse(line)
        if event is not None:
            await terminal.send(event)
        elif terminal.user != playing:
            await terminal.deliver()  # what waited for the person now played
        line = ""
    terminal._print(terminal.loc.t("cli.bye"))


def main_stdin() -> TextIO:
    """Standard input, read as UTF-8 whatever the locale says."""
    stream = sys.stdin
    if hasattr(stream, "reconfigure"):
        stream.reconfigure(encoding="utf-8", errors="replace")
    return stream
