"""The official Python MCP client (PyPI `mcp` 2.3.x) against `brain mcp`, one scenario per run.

usage: python py_client.py SCENARIO (--stdio BRAIN DIR | --url URL [--token SECRET])
                           [--mode auto|legacy] [--task ID] [--args JSON]

Prints one JSON report on stdout; the Rust integration tests assert on it. Scenarios:
  progress   list tools, then site_generate with a progress callback
  poll       site_generate without a progress token, then the status tool following checkStatusIn
  tasks      SEP-2663 tasks through a small client extension: one to completion, one cancelled
  task_start create a task and print its id (restart test)
  task_wait  poll tasks/get for --task until it ends (restart test)
  task_get   one tasks/get for --task; reports the error if any
  subscribe  subscribe to a job's resource and count the updates until it completes
  bad        bad input through the client: wrong types, unknown tool, a tool above the caller's
             level, another principal's task id (--task), then a good call
  bad_http   bad HTTP requests (needs --url and --token): no/wrong bearer, foreign Origin,
             oversized body, malformed JSON-RPC, then a good request
  bench      progress latency: tool `example_progress` reports steps stamped with the send time
  keepalive  site_generate (--args) with a progress token, every notification stamped, then
             --linger seconds more to catch any notification after the answer
  hold       site_generate with a progress token, printing one JSON line per event as it
             happens (the server is stopped meanwhile): progress, then result or closed
  status_wait  the status tool for --task (a job or batch id) until it ends
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any, Literal

import mcp_types
from pydantic import ConfigDict, Field
from mcp import Client, StdioServerParameters
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp_types import CallToolResult, RequestParams, Result
from mcp_types.version import MODERN_PROTOCOL_VERSIONS


# ---- a minimal SEP-2663 tasks client extension ----
class CreateTask(Result):
    model_config = ConfigDict(populate_by_name=True, extra="allow")
    result_type: Literal["task"] = Field(alias="resultType")
    task_id: str = Field(alias="taskId")
    status: str
    poll_interval_ms: int | None = Field(default=None, alias="pollIntervalMs")
    ttl_ms: int | None = Field(default=None, alias="ttlMs")
    status_message: str | None = Field(default=None, alias="statusMessage")


class TaskState(Result):
    model_config = ConfigDict(populate_by_name=True, extra="allow")
    task_id: str = Field(alias="taskId")
    status: str
    status_message: str | None = Field(default=None, alias="statusMessage")
    poll_interval_ms: int | None = Field(default=None, alias="pollIntervalMs")
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class Ack(Result):
    model_config = ConfigDict(extra="allow")


class TaskIdParams(RequestParams):
    model_config = ConfigDict(populate_by_name=True)
    task_id: str = Field(serialization_alias="taskId")


class GetTask(mcp_types.Request[TaskIdParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    params: TaskIdParams
    name_param = "taskId"  # mirrored into the Mcp-Name header on HTTP


class CancelTask(mcp_types.Request[TaskIdParams, Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"
    params: TaskIdParams
    name_param = "taskId"


async def get_task(session, task_id: str) -> TaskState:
    return await session.send_request(GetTask(params=TaskIdParams(task_id=task_id)), TaskState)


class Tasks(ClientExtension):
    identifier = "io.modelcontextprotocol/tasks"

    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []
        self.polls: list[dict[str, Any]] = []

    def claims(self):
        return (ResultClaim(result_type="task", model=CreateTask, resolve=self._resolve,
                            protocol_versions=frozenset(MODERN_PROTOCOL_VERSIONS)),)

    async def _resolve(self, created: CreateTask, ctx: ClaimContext) -> CallToolResult:
        self.created.append(created.model_dump(by_alias=True))
        interval = created.poll_interval_ms or 1000
        while True:
            await asyncio.sleep(interval / 1000)
            st = await get_task(ctx.session, created.task_id)
            self.polls.append({"status": st.status, "message": st.status_message, "after_ms": interval})
            interval = st.poll_interval_ms or interval
            if st.status == "completed":
                return CallToolResult.model_validate(st.result)
            if st.status in ("failed", "cancelled"):
                return CallToolResult(content=[mcp_types.TextContent(type="text", text=json.dumps(st.error))],
                                      is_error=True)


def target(opts):
    if opts.stdio:
        brain, directory = opts.stdio
        return StdioServerParameters(command=brain, args=["--dir", directory, "mcp", *opts.extra])
    if opts.token is None:
        return opts.url
    import httpx2
    from mcp.client.streamable_http import streamable_http_client
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {opts.token}"},
                              timeout=httpx2.Timeout(30, read=300))
    return streamable_http_client(opts.url, http_client=http)


def result_json(r: CallToolResult) -> dict[str, Any]:
    text = r.content[0].text if r.content and hasattr(r.content[0], "text") else ""
    return {"isError": bool(r.is_error), "structured": r.structured_content, "text": text}


async def scenario_progress(opts) -> dict[str, Any]:
    logs: list[dict[str, Any]] = []

    async def on_log(params) -> None:
        logs.append({"level": params.level, "logger": params.logger, "data": params.data})

    # --log asks for job-lifecycle messages: per request (_meta logLevel) on 2026-07-28,
    # logging/setLevel on initialize-era connections.
    async with Client(target(opts), mode=opts.mode, logging_callback=on_log,
                      log_level="info" if opts.log else None) as c:
        if opts.log and c.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            await c.set_logging_level("info")
        tools = await c.list_tools()
        progress: list[dict[str, Any]] = []
        t0 = time.monotonic()

        async def on_progress(p, total, message):
            progress.append({"progress": p, "total": total, "message": message,
                             "at_ms": round((time.monotonic() - t0) * 1000)})

        r = await c.call_tool("site_generate", json.loads(opts.args), progress_callback=on_progress)
        # wait: false answers at once even with a progress token; the job is then cancelled.
        late: list[Any] = []

        async def on_late(p, total, message):
            late.append(message)

        nowait = await c.call_tool("site_generate", {**json.loads(opts.args), "wait": False},
                                   progress_callback=on_late)
        if nowait.structured_content and "jobId" in nowait.structured_content:
            await c.call_tool("jobs_cancel", {"id": nowait.structured_content["jobId"]})
        return {"protocol": c.protocol_version, "nowait": result_json(nowait), "nowait_progress": late,
                "tools": [{"name": t.name, "inputSchema": t.input_schema, "outputSchema": t.output_schema}
                          for t in tools.tools],
                "progress": progress, "result": result_json(r), "logs": logs}


async def scenario_poll(opts) -> dict[str, Any]:
    async with Client(target(opts), mode=opts.mode) as c:
        started = await c.call_tool("site_generate", json.loads(opts.args))
        s = started.structured_content
        wait_ms = s.get("checkStatusInMs", 1000)
        polls: list[dict[str, Any]] = []
        while True:
            await asyncio.sleep(wait_ms / 1000)
            r = await c.call_tool("status", {"id": s["jobId"]})
            entry = r.structured_content[s["jobId"]]
            polls.append({"status": entry["status"], "after_ms": wait_ms,
                          "progress": entry.get("progress"), "text": r.content[0].text})
            if entry["status"] in ("completed", "failed", "cancelled"):
                break
            wait_ms = entry.get("checkAgainInMs", 1000)
        return {"protocol": c.protocol_version, "started": result_json(started), "polls": polls}


async def scenario_tasks(opts) -> dict[str, Any]:
    ext = Tasks()
    async with Client(target(opts), mode=opts.mode, extensions=[ext]) as c:
        completed = await c.call_tool("site_generate", json.loads(opts.args))
        # The second: take the task handle ourselves, cancel it, and watch it end.
        handle = await c.session.call_tool("site_generate", json.loads(opts.args), allow_claimed=True)
        handle = handle if isinstance(handle, CreateTask) else CreateTask.model_validate(handle.model_dump(by_alias=True))
        # Looked at once at once: a batch of several seconds is certainly still working.
        first = await get_task(c.session, handle.task_id)
        await c.session.send_request(CancelTask(params=TaskIdParams(task_id=handle.task_id)), Ack)
        cancelled = None
        for _ in range(100):
            st = await get_task(c.session, handle.task_id)
            if st.status in ("completed", "failed", "cancelled"):
                cancelled = st.model_dump(by_alias=True)
                break
            await asyncio.sleep(0.2)
        return {"protocol": c.protocol_version, "created": ext.created, "polls": ext.polls,
                "completed": result_json(completed), "cancelHandle": handle.model_dump(by_alias=True),
                "firstPoll": {"status": first.status, "message": first.status_message},
                "cancelled": cancelled}


async def scenario_task_start(opts) -> dict[str, Any]:
    async with Client(target(opts), mode=opts.mode, extensions=[Tasks()]) as c:
        handle = await c.session.call_tool("site_generate", json.loads(opts.args), allow_claimed=True)
        return {"task": handle.model_dump(by_alias=True)}


async def scenario_task_wait(opts) -> dict[str, Any]:
    async with Client(target(opts), mode=opts.mode, extensions=[Tasks()]) as c:
        states = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            st = await get_task(c.session, opts.task)
            states.append({"status": st.status, "message": st.status_message})
            if st.status in ("completed", "failed", "cancelled"):
                return {"states": states, "final": st.model_dump(by_alias=True)}
            await asyncio.sleep(min((st.poll_interval_ms or 1000), 2000) / 1000)
        return {"states": states, "final": None}


async def scenario_task_get(opts) -> dict[str, Any]:
    from mcp.shared.exceptions import MCPError
    async with Client(target(opts), mode=opts.mode, extensions=[Tasks()]) as c:
        try:
            st = await get_task(c.session, opts.task)
            return {"ok": st.model_dump(by_alias=True)}
        except MCPError as e:
            return {"error": {"code": e.code, "message": str(e)}}


async def scenario_subscribe(opts) -> dict[str, Any]:
    updates: list[dict[str, Any]] = []
    got_update = asyncio.Event()
    t0 = time.monotonic()

    def stamp(uri: str) -> None:
        updates.append({"uri": uri, "at_ms": round((time.monotonic() - t0) * 1000)})

    async def on_message(m):
        if isinstance(m, Exception):
            return
        root = getattr(m, "root", m)
        if getattr(root, "method", None) == "notifications/resources/updated":
            if not modern:  # a listen stream's events are counted where they are read
                stamp(root.params.uri)
            got_update.set()

    modern = False
    async with Client(target(opts), mode=opts.mode, message_handler=on_message) as c:
        modern = c.protocol_version in MODERN_PROTOCOL_VERSIONS
        started = await c.call_tool("site_generate", {**json.loads(opts.args), "wait": False})
        job_id = started.structured_content["jobId"]
        uri = f"brain://jobs/{job_id}"
        reads: list[dict[str, Any]] = []

        async def read() -> str:
            r = await c.read_resource(uri)
            entry = json.loads(r.contents[0].text)
            reads.append({"status": entry["status"], "progress": entry.get("progress")})
            return entry["status"]

        deadline = time.monotonic() + 90
        if c.protocol_version in MODERN_PROTOCOL_VERSIONS:
            async with c.listen(resource_subscriptions=[uri]) as sub:
                honored = list(sub.honored.resource_subscriptions or [])
                if await read() != "completed":
                    async for _event in sub:
                        stamp(uri)
                        if await read() == "completed" or time.monotonic() > deadline:
                            break
        else:
            honored = [uri]
            await c.subscribe_resource(uri)
            status = await read()
            while status != "completed" and time.monotonic() < deadline:
                try:
                    await asyncio.wait_for(got_update.wait(), 20)
                except TimeoutError:
                    break
                got_update.clear()
                status = await read()
        elapsed_ms = round((time.monotonic() - t0) * 1000)
        listing = await c.read_resource("brain://jobs")
        return {"protocol": c.protocol_version, "jobId": job_id, "honored": honored, "updates": updates,
                "elapsed_ms": elapsed_ms,
                "reads": reads, "jobs": json.loads(listing.contents[0].text)}


async def scenario_bench(opts) -> dict[str, Any]:
    """Latency from the job's report (its wall-clock stamp in the message) to the callback."""
    async with Client(target(opts), mode=opts.mode) as c:
        latencies: list[float] = []

        async def on_progress(p, total, message):
            now = time.time()
            stamp = (message or "").split("sent=")
            if len(stamp) == 2:
                try:
                    latencies.append((now - float(stamp[1].split()[0])) * 1000)
                except ValueError:
                    pass

        r = await c.call_tool("example_progress", json.loads(opts.args), progress_callback=on_progress)
        return {"latencies_ms": latencies, "result": result_json(r)}


def notification_params(m) -> dict[str, Any] | None:
    """The params of a `notifications/progress` reaching message_handler, else None."""
    if isinstance(m, Exception):
        return None
    root = getattr(m, "root", m)
    if getattr(root, "method", None) != "notifications/progress":
        return None
    return root.params.model_dump(by_alias=True, exclude_none=True)


async def ignore_progress(progress, total, message) -> None:
    """Asks for a progress token; the notifications are read in message_handler instead."""


async def scenario_keepalive(opts) -> dict[str, Any]:
    """Every progress notification as message_handler sees it (it also sees late ones, which
    a progress callback would drop), stamped from just before the call."""
    notes: list[dict[str, Any]] = []
    t0 = time.monotonic()

    def ms() -> int:
        return round((time.monotonic() - t0) * 1000)

    async def on_message(m):
        params = notification_params(m)
        if params is not None:
            notes.append({"progress": params.get("progress"), "total": params.get("total"),
                          "message": params.get("message"), "meta": params.get("_meta"), "at_ms": ms()})

    async with Client(target(opts), mode=opts.mode, message_handler=on_message) as c:
        t0 = time.monotonic()
        r = await c.call_tool("site_generate", json.loads(opts.args), progress_callback=ignore_progress)
        answered_ms = ms()
        seen_at_answer = len(notes)
        await asyncio.sleep(opts.linger)
        return {"protocol": c.protocol_version, "notifications": notes, "answered_ms": answered_ms,
                "seen_at_answer": seen_at_answer, "ended_ms": ms(), "result": result_json(r)}


async def scenario_hold(opts) -> dict[str, Any]:
    t0 = time.monotonic()

    def emit(event: dict[str, Any]) -> None:
        print(json.dumps({**event, "at_ms": round((time.monotonic() - t0) * 1000)}), flush=True)

    async def on_message(m):
        params = notification_params(m)
        if params is not None:
            emit({"event": "progress", "progress": params.get("progress"), "message": params.get("message"),
                  "meta": params.get("_meta")})

    try:
        async with Client(target(opts), mode=opts.mode, message_handler=on_message) as c:
            r = await c.call_tool("site_generate", json.loads(opts.args),
                                  progress_callback=ignore_progress)
            emit({"event": "result", "result": result_json(r)})
    except Exception as e:  # the server went away: anyio raises an ExceptionGroup
        emit({"event": "closed", "error": repr(e)[:1000]})
    return {"event": "end"}


async def scenario_status_wait(opts) -> dict[str, Any]:
    async with Client(target(opts), mode=opts.mode) as c:
        polls: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            r = await c.call_tool("status", {"id": opts.task})
            entry = (r.structured_content or {}).get(opts.task)
            if entry is None:
                return {"polls": polls, "missing": result_json(r)}
            polls.append({"status": entry["status"], "progress": entry.get("progress")})
            if entry["status"] in ("completed", "failed", "cancelled"):
                break
            await asyncio.sleep(0.3)
        return {"polls": polls}


async def scenario_bad(opts) -> dict[str, Any]:
    from mcp.shared.exceptions import MCPError
    report: dict[str, Any] = {}
    async with Client(target(opts), mode=opts.mode, extensions=[Tasks()]) as c:
        r = await c.call_tool("site_generate", {"force": "yes", "wait": False})
        report["wrong_type"] = result_json(r)
        r = await c.call_tool("site_generate", {"wait": 3})
        report["wrong_wait"] = result_json(r)
        try:
            await c.call_tool("no_such_tool", {})
            report["unknown_tool"] = None
        except MCPError as e:
            report["unknown_tool"] = {"code": e.code, "message": str(e)}
        r = await c.call_tool("site_build", {"wait": False})
        report["above_level"] = result_json(r)
        report["tools"] = [t.name for t in (await c.list_tools()).tools]
        if opts.task:
            for method in ("get", "cancel"):
                try:
                    req = GetTask if method == "get" else CancelTask
                    await c.session.send_request(req(params=TaskIdParams(task_id=opts.task)), Ack)
                    report[f"foreign_task_{method}"] = None
                except MCPError as e:
                    report[f"foreign_task_{method}"] = {"code": e.code, "message": str(e)}
        r = await c.call_tool("site_routes", {})
        report["still_serving"] = result_json(r)
    return report


async def scenario_bad_http(opts) -> dict[str, Any]:
    import httpx
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                       "clientInfo": {"name": "raw", "version": "0"}}}
    base = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    good = {**base, "Authorization": f"Bearer {opts.token}"}
    report: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=10) as h:
        async def post(name, headers, content):
            r = await h.post(opts.url, headers=headers, content=content)
            report[name] = {"status": r.status_code, "body": r.text[:500],
                            "www_authenticate": r.headers.get("www-authenticate")}
        await post("no_token", base, json.dumps(body))
        await post("wrong_token", {**base, "Authorization": "Bearer not-the-secret-at-all"}, json.dumps(body))
        await post("foreign_origin", {**good, "Origin": "https://evil.example"}, json.dumps(body))
        await post("foreign_host", {**good, "Host": "evil.example"}, json.dumps(body))
        await post("oversized", good, json.dumps({**body, "pad": "x" * (2 * 1024 * 1024)}))
        await post("malformed", good, "{this is not json")
        await post("not_jsonrpc", good, json.dumps({"hello": "world"}))
        await post("good", good, json.dumps(body))
    return report


SCENARIOS = {
    "bad": scenario_bad, "bad_http": scenario_bad_http,
    "progress": scenario_progress, "poll": scenario_poll, "tasks": scenario_tasks,
    "task_start": scenario_task_start, "task_wait": scenario_task_wait, "task_get": scenario_task_get,
    "subscribe": scenario_subscribe, "bench": scenario_bench,
    "keepalive": scenario_keepalive, "hold": scenario_hold, "status_wait": scenario_status_wait,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--stdio", nargs=2, metavar=("BRAIN", "DIR"))
    parser.add_argument("--url")
    parser.add_argument("--token")
    parser.add_argument("--mode", default="auto")
    parser.add_argument("--task")
    parser.add_argument("--args", default='{"force": true}')
    parser.add_argument("--linger", type=float, default=0, help="seconds to listen after the answer")
    parser.add_argument("--log", action="store_true", help="ask for log notifications")
    parser.add_argument("--extra", action="append", default=[], help="extra `brain mcp` argument (stdio)")
    opts = parser.parse_args()
    report = asyncio.run(SCENARIOS[opts.scenario](opts))
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
