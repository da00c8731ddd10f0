"""Changefeeds: the hub writes publish to, the feeds queries read, the cursor that serves them."""

from .feed import (
    TABLE_UNAVAILABLE,
    WAIT,
    ChangefeedHub,
    Feed,
    FeedCursor,
    FeedOptions,
    OrderByLimitFeed,
    PointFeed,
    RangeFeed,
    interleave,
    suspend,
)

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
