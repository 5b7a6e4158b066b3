"""Transport-neutral messages between a user and the dialog engine.

The engine speaks in ``Reply`` objects (text plus rows of ``Button``) and
hears ``Inbound`` events; Telegram turns buttons into inline keyboards with
typed callback data, the terminal into numbered choices.  Nothing here knows
either transport.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import IntEnum


class Action(IntEnum):
    """What a button does.  Values are stable: they travel inside callback data."""

    MENU = 1  # show the main menu
    PICK_PROGRAM = 2  # key: the program's id
    RESUME = 3  # arg: the id of the draft to continue
    BACK = 4
    SKIP = 5
    SAVE_EXIT = 6
    CHOOSE = 7  # key: the option's button key (choice); arg: 1/0 (yesno)
    TOGGLE = 8  # key: the option's button key (multichoice)
    DONE = 9  # finish a multichoice, long text, upload or group
    KEEP = 10  # keep the current answer while editing
    SUGGEST = 11  # arg: suggestion index
    ROW_ADD = 12
    ROW_EDIT = 13  # arg: row index
    ROW_DELETE = 14  # arg: row index (asks to confirm)
    ROW_DELETE_OK = 15  # arg: row index
    EDIT_SECTION = 16  # key: the section's id
    PREVIEW = 17
    SUBMIT = 18
    STATUS = 19
    CANCEL = 20  # leave a sub-step (e.g. a delete confirmation)
    CLEAR = 21  # empty the long-text buffer or the uploads of a question
    STAFF_LIST = 22  # an administrator's colleagues
    STAFF_INVITE = 23  # arg: the organisation to invite a reviewer to
    STAFF_REMOVE = 24  # arg: the membership to remove (asks to confirm)
    STAFF_REMOVE_OK = 25  # arg: the membership to remove
    # The review chain: arg is a review task, the state slots carry the declaration
    # and the version (submission number) the button was shown for.
    REVIEW_SHOW = 26  # a task's card again
    REVIEW_READ = 27  # key: the section of the submitted version to read
    REVIEW_APPROVE = 28  # asks for the opinion
    REVIEW_RETURN = 29  # asks for the reason
    REVIEW_REJECT = 30  # asks for the reason
    REVIEW_SUGGEST = 31  # key: the suggested text's number
    REVIEW_CANCEL = 32  # drop the opinion being written
    REVIEW_VOTE_YES = 33  # a panel member agrees (asks for the opinion)
    REVIEW_VOTE_NO = 34  # a panel member disagrees (asks for the opinion)
    INBOX = 35  # what waits for me
    WITHDRAW = 36  # arg: the declaration to take back (asks to confirm)
    WITHDRAW_OK = 37  # arg: the declaration to take back
    PLACE = 38  # arg: a declaration to put under an organisation (administrators)
    PLACE_PICK = 39  # arg: the declaration; key: the organisation's button key
    TIMELINE = 40  # arg: the declaration whose review history to show
    SETTINGS_TOGGLE = 41  # key: the kind of reminder to mute or hear again
    SETTINGS_HOUR = 42  # arg: the hour reminders come at
    ANNOUNCE_ORG = 43  # arg: the organisation whose leaders an announcement is for
    ANNOUNCE_SEND = 44  # arg: the organisation; sends the announcement previewed
    READING = 60  # arg: which reading of an implausible number to store (5 万元 or 50000 万元)
    # Editing one answer from the preview, reading and discarding (65-74).
    EDIT_PICK = 65  # key: a section's id; shows its answers to pick one
    EDIT_ANSWER = 66  # key: the stable key of a question's id; that answer alone
    EDIT_ROW = 67  # arg: row index; key: the group's question key; the row's fields
    EDIT_FIELD = 68  # arg: row index; key: group key + field key; that field alone
    SUBMIT_OK = 69  # submit, once the confirmation naming the receiver was seen
    READ_OWN = 70  # arg: the applicant's declaration; key: the section to read
    DISCARD = 71  # arg: the draft to discard (asks to confirm)
    DISCARD_OK = 72  # arg: the draft to discard
    # Several rows of a group at once (a paste or a sheet), shown back to confirm.
    TABLE_OK = 75  # arg: how many rows were read (re-checked against what waits)
    TABLE_CANCEL = 76  # drop the rows waiting for confirmation
    TABLE_TEMPLATE = 77  # send the group's .xlsx template
    FORM_OWN = 78  # arg: the applicant's declaration (0: the draft on screen); its form
    REVIEW_FORM = 79  # arg: the task; the form of the declaration it decides on
    ROW_FROM_LEADER = 80  # arg: the row (the first); fills it from the leader's answers
    # An administrator's workbook of declarations (/export), 95-99.
    EXPORT_ORG = 95  # arg: the organisation whose declarations to export
    EXPORT_PROGRAM = 96  # arg: the organisation; key: the program's id; sends the workbook


@dataclass(frozen=True)
class Button:
    """One button; ``arg`` (a small integer) and ``key`` (a stable id: a program, an
    option, a section) mean what ``action`` says.  Never a position in a list that
    a definition may reorder."""

    label: str
    action: Action
    arg: int = 0
    key: str = ""


@dataclass
class Screen:
    """One drawn message (a view in words), before a transport adds its ids."""

    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    expects_text: bool = False


@dataclass(frozen=True)
class Media:
    """A photo or file sent with a reply (before its text): a reviewer reading the
    declaration sees the applicant's photos and documents themselves.

    ``path`` is the stored copy on disk ("" if the file was never downloaded);
    ``ref`` the channel's own id of the file, which that channel can send again.
    """

    kind: str  # "photo" or "document"
    name: str
    path: str = ""
    ref: str = ""


@dataclass
class Reply:
    """One message to send.

    ``application_id`` and ``revision`` identify the state the buttons belong
    to; a press carrying an older revision is stale.  ``expects_text`` tells a
    transport whether free text is a normal answer here (so the terminal knows
    whether a bare number means a button).
    """

    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    application_id: int = 0
    revision: int = 0
    expects_text: bool = False
    media: list[Media] = field(default_factory=list)
    replaces: bool = False
    """Takes the place of the message whose button was pressed (a tick edits the
    question in place); a transport that cannot edit, or whose edit fails, sends it."""


@dataclass(frozen=True)
class UserRef:
    """Who is talking, on which channel."""

    channel: str
    external_id: str
    display_name: str = ""
    language: str | None = None


@dataclass(frozen=True)
class TextIn:
    """A typed message."""

    text: str


@dataclass(frozen=True)
class CommandIn:
    """A command such as /start, /apply, /status, /help, /cancel (name without slash).

    ``args`` is what followed the name: an invitation's token in ``/start <token>``,
    which is how a Telegram link ``t.me/<bot>?start=<token>`` arrives.
    """

    name: str
    args: str = ""


DB_INT_MAX = 2**31 - 1
"""Ids and revisions are 32-bit columns: a larger number from a button is forged."""


def storable(*numbers: int) -> bool:
    """Whether every number from a button could be a stored id (button data is user input)."""
    return all(0 <= n <= DB_INT_MAX for n in numbers)


@dataclass(frozen=True)
class ButtonIn:
    """A pressed button, with the state it was shown for."""

    action: Action
    arg: int
    application_id: int
    revision: int
    key: str = ""


@dataclass(frozen=True)
class FileIn:
    """An uploaded photo or document.  ``fetch`` downloads the bytes on demand,
    so a file too large or of the wrong type is refused before it is downloaded."""

    kind: str  # "photo" or "document"
    file_name: str
    mime_type: str
    size: int | None
    source_ref: str
    fetch: Callable[[], Awaitable[bytes]]
    unique_ref: str = ""
    """The messenger's lasting identity of the file, when it has one (a photo sent
    again may come with a new ``source_ref``); such a transport names the file after it."""
    kept: bool = True
    """Whether the sender keeps the file, so that a photo it cannot hand over now may
    be kept by reference and fetched later (a messenger, whose photos are its own
    JPEGs); False for a local file (the terminal): a failed read is a failed upload,
    and nothing is ever taken on the word of its name."""
    fetch_limit: int | None = None
    """The largest file, in bytes, the messenger hands over to the bot (Telegram's
    ``getFile``: 20 MB); None where there is no such limit (a local file).  A file
    claimed larger is refused before any download, with that limit named."""


class TooBigToFetch(Exception):
    """Raised by ``FileIn.fetch`` when the messenger will not hand the file over
    because it is too large: no retry helps, and no reference may stand in for it."""

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(f"the messenger hands over files of at most {limit_bytes} bytes")
        self.limit_bytes = limit_bytes


@dataclass(frozen=True)
class UnsupportedIn:
    """Anything the dialog cannot use (sticker, voice, location...)."""

    kind: str


Inbound = TextIn | CommandIn | ButtonIn | FileIn | UnsupportedIn

UpdateKey = tuple[str, str]
"""Where an inbound event came from and its id there, so a redelivery is recognised."""


@dataclass
class Outcome:
    """What handling one inbound event produced.

    ``toast`` is the short answer to a button press (Telegram shows it on the
    pressed button).
    """

    replies: list[Reply] = field(default_factory=list)
    toast: str | None = None
