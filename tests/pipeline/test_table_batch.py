"""The tracking writes' entity-group transactions, sent by ``table_batch`` instead of the SDK's
``submit_transaction``: the same body byte for byte (generated rows: any text, numbers, booleans, dates; every
kind of operation), the same rows in the table afterwards, and the same errors when storage refuses one
(Azurite). The tracking adapter's own transactions (a page's pulled items, an item and its copies) run on it."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline import PipelineContext, PipelineRequest
from azure.core.rest import HttpRequest
from azure.data.tables import TableServiceClient, TableTransactionError, UpdateMode
from azure.data.tables._policies import StorageHeadersPolicy
from azure.data.tables._table_batch import TableBatchOperations
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.adapters.storage.table_batch import http_parts, multipart_body, status_of, submit_transaction
from shared.adapters.storage.transport import storage_transport

text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)
keys = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"], exclude_characters="/\\#?"),
               min_size=1, max_size=20)
values = (text | st.integers(-2**31, 2**31 - 1) | st.booleans() | st.floats(allow_nan=False, allow_infinity=False)
          | st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(timezone.utc)))
names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,15}", fullmatch=True).filter(lambda n: n not in ("PartitionKey", "RowKey"))
rows = st.builds(lambda rk, props: {"RowKey": rk, **props}, keys, st.dictionaries(names, values, max_size=5))
operation = st.one_of(
    rows.map(lambda r: ("create", r)),
    rows.map(lambda r: ("upsert", r, {"mode": UpdateMode.MERGE})),
    rows.map(lambda r: ("upsert", r, {"mode": UpdateMode.REPLACE})),
    rows.map(lambda r: ("update", r, {"mode": UpdateMode.MERGE})),
    rows.map(lambda r: ("delete", r)),
)
operations = st.builds(  # one transaction: one partition
    lambda pk, ops: [(op[0], {"PartitionKey": pk, **op[1]}, *op[2:]) for op in ops],
    keys, st.lists(operation, min_size=1, max_size=6))


@pytest.fixture(scope="module")
def offline_table():
    """A table client for building requests only (nothing is sent)."""
    return TableServiceClient.from_connection_string(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;").get_table_client("tracking")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations)
def test_the_body_is_the_sdks_byte_for_byte(offline_table, ops):
    built = TableBatchOperations(config=offline_table._client._config,
                                 endpoint=f"{offline_table.scheme}://{offline_table._primary_hostname}",
                                 table_name=offline_table.table_name, is_cosmos_endpoint=False)
    for op in ops:
        built.add_operation(op)
    for part in built.requests:  # the same date on both sides: each part's headers as the SDK sets them
        StorageHeadersPolicy().on_request(PipelineRequest(part, PipelineContext(None)))
    # the SDK's framing, as TablesBaseClient._batch_send asks azure-core for it
    changeset = HttpRequest("POST", "")
    changeset.set_multipart_mixed(*built.requests, policies=[], boundary="changeset_c")
    sdk = HttpRequest("POST", "http://127.0.0.1:10002/devstoreaccount1/$batch")
    sdk.set_multipart_mixed(changeset, policies=[], enforce_https=False, boundary="batch_b")
    sdk.prepare_multipart_body()

    ours = multipart_body("batch_b", "changeset_c", [part.serialize() for part in built.requests])

    assert ours == sdk.content
    assert sdk.headers["Content-Type"] == "multipart/mixed; boundary=batch_b"


@pytest.fixture
def tables(storage_connection):
    service = TableServiceClient.from_connection_string(storage_connection, transport=storage_transport())
    service.create_table_if_not_exists("batchsdk")
    service.create_table_if_not_exists("batchours")
    return service.get_table_client("batchsdk"), service.get_table_client("batchours")


def _item_and_copies(pk: str, n: int, outcome: str = "imported") -> list[tuple]:
    return [("upsert", {"PartitionKey": pk, "RowKey": f"item|{n}", "stage": "converted", "copies": 2, "partial": False,
                        "note": "Zoë's \"group\"\r\n日本"}, {"mode": UpdateMode.MERGE}),
            ("create", {"PartitionKey": pk, "RowKey": f"copy|{n}|a", "outcome": outcome, "at": datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)}),
            ("upsert", {"PartitionKey": pk, "RowKey": f"copy|{n}|b", "outcome": outcome, "share": 0.25}, {"mode": UpdateMode.MERGE})]


def _rows(table) -> list[dict]:
    return sorted((dict(row) for row in table.list_entities()), key=lambda r: r["RowKey"])


def test_the_same_rows_land_and_the_same_refusals_come_back(tables):
    sdk_table, our_table = tables
    for n in range(3):
        sdk_table.submit_transaction(_item_and_copies("2026-11-27", n))
        assert submit_transaction(our_table, _item_and_copies("2026-11-27", n)) == 3
    assert _rows(our_table) == _rows(sdk_table) and len(_rows(our_table)) == 9

    # a copy row created twice: the whole transaction refused, the item row's merge not applied either
    refused = []
    for send, table in ((sdk_table.submit_transaction, sdk_table),
                        (lambda ops: submit_transaction(our_table, ops), our_table)):
        with pytest.raises(TableTransactionError) as caught:
            send(_item_and_copies("2026-11-27", 1, outcome="failed"))
        refused.append((type(caught.value), caught.value.status_code, caught.value.error_code,
                        str(caught.value).splitlines()[0]))
        assert table.get_entity("2026-11-27", "copy|1|b")["outcome"] == "imported"
    assert refused[0] == refused[1] == (TableTransactionError, 409, "EntityAlreadyExists",
                                        "1:The specified entity already exists.")


def test_a_missing_table_is_refused_as_the_sdk_refuses_it(storage_connection):
    service = TableServiceClient.from_connection_string(storage_connection, transport=storage_transport())
    missing = service.get_table_client("nosuchtable")
    errors = []
    for send in (missing.submit_transaction, lambda ops: submit_transaction(missing, ops)):
        with pytest.raises(HttpResponseError) as caught:
            send(_item_and_copies("d", 1))
        errors.append((type(caught.value), caught.value.status_code, caught.value.error_code))
    assert errors[0] == errors[1]
    assert errors[0][1] == 404 and errors[0][2] == "TableNotFound"


def test_the_answer_is_read_part_by_part_and_a_part_of_another_kind_is_refused():
    answer = (b"--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_2\r\n\r\n"
              b"--changesetresponse_2\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
              b"HTTP/1.1 204 No Content\r\nETag: W/\"x\"\r\n\r\n\r\n"
              b"--changesetresponse_2\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
              b"HTTP/1.1 201 Created\r\nLocation: x\r\n\r\n\r\n"
              b"--changesetresponse_2--\r\n--batchresponse_1--\r\n")
    parts = http_parts(answer, "multipart/mixed; boundary=batchresponse_1")
    assert [status_of(p) for p in parts] == [204, 201]

    with pytest.raises(HttpResponseError, match="text/plain"):
        http_parts(b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n", "multipart/mixed; boundary=b")
    with pytest.raises(HttpResponseError, match="boundary"):
        http_parts(answer, "application/json")
    with pytest.raises(HttpResponseError, match="status line"):
        status_of(b"garbage")
