"""Changefeeds: the hub writes publish to (hub.py), the feeds queries read (feed.py, limit.py),
their options (options.py), the cursor that serves them (cursor.py)."""

from .cursor import FeedCursor, interleave
from .feed import WAIT, Feed, PointFeed, RangeFeed, suspend
from .hub import TABLE_UNAVAILABLE, ChangefeedHub
from .limit import OrderByLimitFeed
from .options import FeedOptions

__all__ = [
    "TABLE_UNAVAILABLE",
    "WAIT",
    "ChangefeedHub",
    "Feed",
    "FeedCursor",
    "FeedOptions",
    "OrderByLimitFeed",
    "PointFeed",
    "RangeFeed",
    "interleave",
    "suspend",
]
