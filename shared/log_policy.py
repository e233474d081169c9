"""What the libraries may log: warnings and worse only.

httpx logs every request URL at INFO: Graph ``$filter`` URLs name people's addresses, and an
upload session's URL carries its own token. The Azure SDK logs request URLs and headers at INFO
too. Our own log lines name ids only through ``shared.domain.bounded.for_log`` (escaped, bounded).
"""

from __future__ import annotations

import logging

QUIET_LOGGERS = ("httpx", "httpcore", "azure", "msal", "kiota_http", "kiota_abstractions", "msgraph", "msgraph_core",
                 "urllib3")


def quiet_library_loggers() -> None:
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
