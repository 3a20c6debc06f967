"""Domain blocks: a blocked domain covers its subdomains; nothing is sent to or taken from them."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col

from storage.models import DomainBlock


def domain_suffixes(host: str) -> list[str]:
    """``a.b.example`` (port dropped) -> ``["a.b.example", "b.example", "example"]``."""
    name = host.lower().rsplit(":", 1)[0] if host.count(":") == 1 else host.lower()
    labels = name.strip(".").split(".")
    return [".".join(labels[index:]) for index in range(len(labels))]


async def blocked_hosts(session: AsyncSession | AsyncConnection, hosts: Iterable[str]) -> set[str]:
    """Which of ``hosts`` fall under a domain block (one query for any number of hosts)."""
    by_suffix = _by_suffix(hosts)
    if not by_suffix:
        return set()
    blocked = await session.scalars(select(col(DomainBlock.domain)).where(col(DomainBlock.domain).in_(list(by_suffix))))
    return {host for domain in blocked for host in by_suffix[domain]}


def blocked_hosts_in(session: Session, hosts: Iterable[str]) -> set[str]:
    """``blocked_hosts`` in a unit of work."""
    by_suffix = _by_suffix(hosts)
    if not by_suffix:
        return set()
    blocked = session.scalars(select(col(DomainBlock.domain)).where(col(DomainBlock.domain).in_(list(by_suffix))))
    return {host for domain in blocked for host in by_suffix[domain]}


def _by_suffix(hosts: Iterable[str]) -> dict[str, set[str]]:
    """Each domain a block may name -> the hosts among ``hosts`` it would cover."""
    by_suffix: dict[str, set[str]] = {}
    for host in set(hosts):
        for suffix in domain_suffixes(host):
            by_suffix.setdefault(suffix, set()).add(host)
    return by_suffix
