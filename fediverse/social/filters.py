"""Custom filters: an account's own rules for what it reads (Mastodon 4's filters v2; docs/client-api.md).
A filter has a title, the contexts it applies in, an action (``warn``, ``hide``, ``blur``), perhaps an end,
and keywords and chosen posts; ``fediverse.reads.filters`` matches them. Private, never federated.

Mastodon's older ``/api/v1/filters`` sees one keyword as one filter; ``v1_*`` here keep that view over
the same rows. Plain ``Session`` functions, run in ``Database.write`` units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from fediverse.core.errors import NotFound, UnprocessableEntity
from fediverse.core.visibility import may_see
from fediverse.reads.filters import ACTIONS, CONTEXTS
from storage.models import CustomFilter, FilterKeyword, FilterStatus, Post
from storage.types import utcnow

MAX_TITLE = 255
MAX_KEYWORD = 512
MAX_FILTERS = 300
MAX_KEYWORDS = 200


@dataclass(frozen=True)
class FilterFields:
    """What a create or update sets; ``None`` keeps the current value. ``expires_at`` is applied when
    ``change_expiry`` (None then means "never")."""

    title: str | None = None
    context: Sequence[str] | None = None
    action: str | None = None
    change_expiry: bool = False
    expires_at: datetime | None = None


@dataclass(frozen=True)
class KeywordChange:
    """One of ``keywords_attributes[]``: a new keyword (no ``id``), a change to one, or its removal."""

    id: int | None = None
    keyword: str | None = None
    whole_word: bool | None = None
    destroy: bool = False


def _check(fields: FilterFields) -> None:
    if fields.title is not None and not fields.title.strip():
        raise UnprocessableEntity("Validation failed: Title can't be blank")
    if fields.title is not None and len(fields.title) > MAX_TITLE:
        raise UnprocessableEntity(f"Validation failed: Title is too long (at most {MAX_TITLE} characters)")
    if fields.context is not None:
        if not fields.context:
            raise UnprocessableEntity("Validation failed: Context can't be blank")
        if set(fields.context) - set(CONTEXTS):
            raise UnprocessableEntity("Validation failed: Context contains one or more invalid contexts")
    if fields.action is not None and fields.action not in ACTIONS:
        raise UnprocessableEntity("Validation failed: Filter action is not included in the list")


def _apply(row: CustomFilter, fields: FilterFields) -> None:
    if fields.title is not None:
        row.title = fields.title.strip()
    if fields.context is not None:
        row.context = list(dict.fromkeys(fields.context))
    if fields.action is not None:
        row.action = fields.action
    if fields.change_expiry:
        row.expires_at = fields.expires_at
    row.updated_at = utcnow()


def own_filter(session: Session, account_id: int, filter_id: int) -> CustomFilter:
    found = session.get(CustomFilter, filter_id)
    if found is None or found.account_id != account_id:
        raise NotFound("Record not found")
    return found


def filters_of(session: Session, account_id: int) -> list[CustomFilter]:
    query = select(CustomFilter).where(col(CustomFilter.account_id) == account_id)
    return list(session.scalars(query.order_by(col(CustomFilter.id))))


def keywords_of(session: Session, filter_ids: Sequence[int]) -> list[FilterKeyword]:
    query = select(FilterKeyword).where(col(FilterKeyword.filter_id).in_(list(filter_ids)))
    return list(session.scalars(query.order_by(col(FilterKeyword.id))))


def statuses_of(session: Session, filter_ids: Sequence[int]) -> list[FilterStatus]:
    query = select(FilterStatus).where(col(FilterStatus.filter_id).in_(list(filter_ids)))
    return list(session.scalars(query.order_by(col(FilterStatus.id))))


def create_filter(
    session: Session, account_id: int, fields: FilterFields, keywords: Sequence[KeywordChange] = ()
) -> CustomFilter:
    _check(fields)
    if fields.title is None or fields.context is None:
        raise UnprocessableEntity("Validation failed: Title can't be blank, Context can't be blank")
    count = session.scalar(select(func.count()).where(col(CustomFilter.account_id) == account_id)) or 0
    if count >= MAX_FILTERS:
        raise UnprocessableEntity(f"Validation failed: You cannot have more than {MAX_FILTERS} filters")
    row = CustomFilter(account_id=account_id, title="", context=[], action="warn")
    _apply(row, fields)
    session.add(row)
    session.flush()
    change_keywords(session, row, keywords)
    return row


def update_filter(
    session: Session, account_id: int, filter_id: int, fields: FilterFields, keywords: Sequence[KeywordChange] = ()
) -> CustomFilter:
    _check(fields)
    row = own_filter(session, account_id, filter_id)
    _apply(row, fields)
    change_keywords(session, row, keywords)
    session.flush()
    return row


def delete_filter(session: Session, account_id: int, filter_id: int) -> None:
    row = own_filter(session, account_id, filter_id)
    session.execute(delete(FilterKeyword).where(col(FilterKeyword.filter_id) == row.id))
    session.execute(delete(FilterStatus).where(col(FilterStatus.filter_id) == row.id))
    session.delete(row)


def delete_all_filters(session: Session, account_id: int) -> None:
    """An account's filters with their keywords and posts (its purge)."""
    ids = select(col(CustomFilter.id)).where(col(CustomFilter.account_id) == account_id)
    session.execute(delete(FilterKeyword).where(col(FilterKeyword.filter_id).in_(ids)))
    session.execute(delete(FilterStatus).where(col(FilterStatus.filter_id).in_(ids)))
    session.execute(delete(CustomFilter).where(col(CustomFilter.account_id) == account_id))


def _checked_keyword(text: str | None) -> str:
    keyword = (text or "").strip()
    if not keyword:
        raise UnprocessableEntity("Validation failed: Keyword can't be blank")
    if len(keyword) > MAX_KEYWORD:
        raise UnprocessableEntity(f"Validation failed: Keyword is too long (at most {MAX_KEYWORD} characters)")
    return keyword


def change_keywords(session: Session, row: CustomFilter, changes: Sequence[KeywordChange]) -> None:
    """``keywords_attributes[]``: add, change or (``_destroy``) remove the filter's keywords."""
    existing = {item.id: item for item in keywords_of(session, [row.id])}
    for change in changes:
        if change.id is None:
            if change.destroy:
                continue
            if len(existing) >= MAX_KEYWORDS:
                raise UnprocessableEntity(f"Validation failed: A filter has at most {MAX_KEYWORDS} keywords")
            added = FilterKeyword(
                filter_id=row.id,
                keyword=_checked_keyword(change.keyword),
                whole_word=True if change.whole_word is None else change.whole_word,
            )
            session.add(added)
            session.flush()
            existing[added.id] = added
            continue
        keyword = existing.get(change.id)
        if keyword is None:
            raise NotFound("Record not found")
        if change.destroy:
            session.delete(keyword)
            del existing[change.id]
            continue
        if change.keyword is not None:
            keyword.keyword = _checked_keyword(change.keyword)
        if change.whole_word is not None:
            keyword.whole_word = change.whole_word
    session.flush()


def own_keyword(session: Session, account_id: int, keyword_id: int) -> tuple[FilterKeyword, CustomFilter]:
    keyword = session.get(FilterKeyword, keyword_id)
    if keyword is None:
        raise NotFound("Record not found")
    return keyword, own_filter(session, account_id, keyword.filter_id)


def delete_keyword(session: Session, account_id: int, keyword_id: int) -> None:
    keyword, _ = own_keyword(session, account_id, keyword_id)
    session.delete(keyword)


def own_status(session: Session, account_id: int, status_id: int) -> tuple[FilterStatus, CustomFilter]:
    chosen = session.get(FilterStatus, status_id)
    if chosen is None:
        raise NotFound("Record not found")
    return chosen, own_filter(session, account_id, chosen.filter_id)


def add_status(session: Session, account_id: int, actor_id: int, filter_id: int, post_id: int) -> FilterStatus:
    """Choose a post (one the account may see) for the filter; choosing it again is a 422, as in Mastodon."""
    row = own_filter(session, account_id, filter_id)
    post = session.get(Post, post_id)
    if post is None or post.deleted_at is not None or not may_see(session, post, actor_id):
        raise NotFound("Record not found")
    taken = session.scalar(
        select(FilterStatus).where(col(FilterStatus.filter_id) == row.id, col(FilterStatus.post_id) == post_id)
    )
    if taken is not None:
        raise UnprocessableEntity("Validation failed: Status has already been taken")
    chosen = FilterStatus(filter_id=row.id, post_id=post_id)
    session.add(chosen)
    session.flush()
    return chosen


def delete_status(session: Session, account_id: int, status_id: int) -> None:
    chosen, _ = own_status(session, account_id, status_id)
    session.delete(chosen)


# Mastodon's v1 view: each keyword is a filter of its own.


def v1_create(
    session: Session, account_id: int, fields: FilterFields, phrase: str | None, whole_word: bool | None
) -> FilterKeyword:
    """A v1 filter: a new filter titled by its phrase, with that one keyword."""
    keyword_text = _checked_keyword(phrase)
    row = create_filter(
        session,
        account_id,
        FilterFields(
            title=keyword_text[:MAX_TITLE],
            context=fields.context,
            action=fields.action or "warn",
            change_expiry=fields.change_expiry,
            expires_at=fields.expires_at,
        ),
    )
    keyword = FilterKeyword(
        filter_id=row.id, keyword=keyword_text, whole_word=True if whole_word is None else whole_word
    )
    session.add(keyword)
    session.flush()
    return keyword


def v1_update(
    session: Session,
    account_id: int,
    keyword_id: int,
    fields: FilterFields,
    phrase: str | None,
    whole_word: bool | None,
) -> tuple[FilterKeyword, CustomFilter]:
    """Change a keyword, and its filter's settings when the filter has no other keyword (a filter of
    several keywords cannot be changed through v1, as in Mastodon)."""
    _check(fields)
    keyword, row = own_keyword(session, account_id, keyword_id)
    if phrase is not None:
        keyword.keyword = _checked_keyword(phrase)
    if whole_word is not None:
        keyword.whole_word = whole_word
    changes_filter = fields.context is not None or fields.action is not None or fields.change_expiry
    if changes_filter:
        if len(keywords_of(session, [row.id])) > 1:
            raise UnprocessableEntity("This filter has several keywords; change it through the v2 filters API.")
        _apply(row, fields)
    session.flush()
    return keyword, row


def v1_delete(session: Session, account_id: int, keyword_id: int) -> None:
    """Remove a keyword, and its filter once it has nothing left to match."""
    keyword, row = own_keyword(session, account_id, keyword_id)
    session.delete(keyword)
    session.flush()
    if not keywords_of(session, [row.id]) and not statuses_of(session, [row.id]):
        session.delete(row)
