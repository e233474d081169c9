from tests.feed.conftest import sample  # noqa: F401 - the generated day, served by a bare FeedServer
