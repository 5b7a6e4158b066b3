"""``/link``: one person on several channels (Telegram, DingTalk, the terminal).

``/link`` alone gives a one-time code; ``/link CODE`` typed in another channel
makes that channel's account the same person, with the same drafts, roles and
notices.  The rules (who may be linked, how long a code lives) are in
``storage.links``; this module only words the outcome.
"""

from __future__ import annotations

from dialogs.turn import Turn
from dialogs.ui import Outcome, Reply
from storage import links

KEYS = {
    links.Linked.DONE: "dingtalk.link_done",
    links.Linked.UNKNOWN: "dingtalk.link_unknown",
    links.Linked.SAME: "dingtalk.link_same",
    links.Linked.OWN_DATA: "dingtalk.link_own_data",
}


async def link(turn: Turn, args: str) -> Outcome:
    """Give a code, or redeem the one typed."""
    person_id = turn.user.id or 0
    if not args.strip():
        code = await links.issue(turn.session, person_id=person_id, now=turn.now)
        minutes = int(links.LINK_TTL.total_seconds() // 60)
        return Outcome([Reply(turn.t("dingtalk.link_code", code=code, minutes=minutes))])
    result, _ = await links.redeem(turn.session, code=args, person_id=person_id, now=turn.now)
    if result is links.Linked.DONE:
        return turn.menu(turn.t(KEYS[result]))
    return Outcome([Reply(turn.t(KEYS[result]))])
