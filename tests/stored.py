"""Reading what the product stored, for assertions (the product itself never reads
the history back: it only appends to it)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.models import AnswerEvent


async def answer_history(session: AsyncSession, *, application_id: int) -> list[AnswerEvent]:
    """Every accepted answer of an application, oldest first."""
    result = await session.execute(
        select(AnswerEvent)
        .where(AnswerEvent.application_id == application_id)
        .order_by(col(AnswerEvent.id))
    )
    return list(result.scalars().all())
