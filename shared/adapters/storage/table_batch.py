"""Entity-group transactions (Azure Tables' ``$batch``) sent as azure-data-tables sends them, minus its overhead.

``TableClient.submit_transaction`` writes the multipart body with the stdlib ``email`` generator and reads the
answer with the ``email`` parser (policy HTTP, its header registry), and azure-core starts a thread pool three
times per request to apply a policy to each part. For an item and its two copies that is 3.3 ms of CPU here,
five times a single row's write; the pipeline writes one per item converted and one per batch pulled.

This keeps everything that decides what storage receives from the SDK: the operations are built by its
``TableBatchOperations`` (rows, OData types, URLs), each part gets its ``StorageHeadersPolicy``, the request
goes through the table client's own pipeline (signing, retries, logging), and a refused transaction is decoded
by its ``_decode_error`` into the same ``TableTransactionError``. Only the framing is written here, byte for
byte what azure-core writes (``tests/pipeline/test_table_batch.py`` compares the two, and runs both against
Azurite), and the answer's parts are split without a MIME parser. Pinned to azure-data-tables 12.7.0's
internals (requirements.txt); the comparison test fails first when an upgrade changes them.
"""

from __future__ import annotations

from typing import Iterable
from uuid import uuid4

from azure.core.exceptions import HttpResponseError
from azure.core.pipeline import PipelineContext, PipelineRequest
from azure.core.pipeline.transport._base import _deserialize_response
from azure.core.rest import HttpRequest
from azure.data.tables import TableClient, TableTransactionError
from azure.data.tables._error import RequestTooLargeError, _decode_error, _validate_tablename_error
from azure.data.tables._policies import StorageHeadersPolicy
from azure.data.tables._table_batch import TableBatchOperations

CRLF = b"\r\n"


def submit_transaction(table: TableClient, operations: Iterable[tuple]) -> int:
    """``table.submit_transaction(operations)``: all or nothing; returns how many operations were applied.
    Raises what the SDK raises: ``TableTransactionError`` (``status_code``, ``error_code``) when storage refused
    one of them, ``RequestTooLargeError`` for a body over 4 MiB, ``HttpResponseError`` and its kin otherwise."""
    built = TableBatchOperations(
        config=table._client._config,  # noqa: SLF001 - the SDK's own builder, as submit_transaction uses it
        endpoint=f"{table.scheme}://{table._primary_hostname}",  # noqa: SLF001
        table_name=table.table_name,
        is_cosmos_endpoint=table._cosmos_endpoint,  # noqa: SLF001
    )
    for operation in operations:
        built.add_operation(operation)
    parts = built.requests
    if not parts:
        return 0
    headers = StorageHeadersPolicy()
    for part in parts:
        headers.on_request(PipelineRequest(part, PipelineContext(None)))
    batch, changeset = f"batch_{uuid4()}", f"changeset_{uuid4()}"
    request = HttpRequest(
        method="POST",
        url=f"{table.scheme}://{table._primary_hostname}/$batch",  # noqa: SLF001
        headers={
            "x-ms-version": table._client._config.version,  # noqa: SLF001
            "DataServiceVersion": "3.0",
            "MaxDataServiceVersion": "3.0;NetFx",
            "Content-Type": f"multipart/mixed; boundary={batch}",
            "Accept": "application/json",
        },
        content=multipart_body(batch, changeset, [part.serialize() for part in parts]),
    )
    response = table._client.send_request(request, stream=True)  # noqa: SLF001 - the table client's pipeline
    response.read()
    if response.status_code == 413:
        raise _too_large(response)
    if response.status_code != 202:
        decoded = _decode_error(response)
        _validate_tablename_error(decoded, table.table_name)
        raise decoded
    answers = http_parts(response.content, response.headers.get("Content-Type", ""))
    for answer in answers:
        status = status_of(answer)
        if not 200 <= status < 300:
            if status == 413:
                raise _too_large(response)
            decoded = _decode_error(response=_deserialize_response(answer, request), error_type=TableTransactionError)
            _validate_tablename_error(decoded, table.table_name)
            raise decoded
    return len(answers)


def _too_large(response) -> RequestTooLargeError:
    return _decode_error(response, error_message="The transaction request was too large", error_type=RequestTooLargeError)


def multipart_body(batch: str, changeset: str, parts: list[bytes]) -> bytes:
    """The body azure-core writes for a batch holding one changeset of ``parts`` (serialised requests)."""
    out = [b"--" + batch.encode() + CRLF, b"Content-Type: multipart/mixed; boundary=" + changeset.encode() + CRLF + CRLF]
    delimiter = b"--" + changeset.encode() + CRLF
    for index, part in enumerate(parts):
        out += [delimiter, b"Content-Type: application/http" + CRLF, b"Content-Transfer-Encoding: binary" + CRLF,
                b"Content-ID: " + str(index).encode() + CRLF + CRLF, part, CRLF]
    out += [b"--" + changeset.encode() + b"--" + CRLF + CRLF, b"--" + batch.encode() + b"--" + CRLF]
    return b"".join(out)


def http_parts(body: bytes, content_type: str) -> list[bytes]:
    """The application/http parts of a multipart/mixed ``body``, in order, a changeset's read in its place."""
    found: list[bytes] = []
    for section in body.split(b"--" + _boundary(content_type))[1:]:
        if section.startswith(b"--"):  # the closing delimiter
            break
        head, _, payload = section.removeprefix(CRLF).partition(CRLF + CRLF)
        part_type = _header(head, b"content-type")
        if part_type.lower().startswith("multipart/mixed"):
            found += http_parts(payload, part_type)
        elif part_type.lower().startswith("application/http"):
            found.append(payload.removesuffix(CRLF))
        else:
            raise HttpResponseError(f"an entity-group transaction's answer holds a part of type {part_type!r}; "
                                    "expected application/http or multipart/mixed")
    return found


def status_of(answer: bytes) -> int:
    """The status code on an application/http part's first line (``HTTP/1.1 204 No Content``)."""
    try:
        return int(answer.split(b" ", 2)[1])
    except (IndexError, ValueError):
        raise HttpResponseError(f"an entity-group transaction's answer holds a part without a status line: "
                                f"{answer[:80]!r}") from None


def _header(head: bytes, name: bytes) -> str:
    for line in head.split(CRLF):
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip().decode("latin-1")
    return ""


def _boundary(content_type: str) -> bytes:
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary" and value:
            return value.strip('"').encode("latin-1")
    raise HttpResponseError(f"an entity-group transaction's answer is not multipart/mixed with a boundary "
                            f"(Content-Type {content_type!r})")
