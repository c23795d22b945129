"""MCP benchmarks with the official Python client (printed, not asserted).

usage: python bench.py latency BRAIN DIR     progress latency over stdio (tool example_progress)
       python bench.py sessions URL [N]      N (50) concurrent HTTP sessions, each starting a job
                                             and polling the status tool until it finishes

`BRAIN` must be a binary with the `example_progress` tool (tests/example-plugin's
brain-mcp-bench). Latency is measured from the job's report (its wall-clock stamp in the
progress message) to the client's progress callback.
"""
from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time

from mcp import Client, StdioServerParameters


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def latency(brain: str, directory: str, jobs: int = 4, steps: int = 20, interval_ms: int = 1000) -> None:
    samples: list[float] = []
    target = StdioServerParameters(command=brain, args=["--dir", directory, "mcp"])
    async with Client(target) as c:
        async def one() -> None:
            async def on_progress(p, total, message):
                now = time.time()
                if message and "sent=" in message:
                    samples.append((now - float(message.split("sent=")[1].split()[0])) * 1000)

            await c.call_tool("example_progress", {"steps": steps, "interval_ms": interval_ms},
                              progress_callback=on_progress)

        await asyncio.gather(*(one() for _ in range(jobs)))
    print(f"progress latency over stdio (report -> Python callback), {len(samples)} notifications: "
          f"p50 {pct(samples, 0.5):.2f} ms, p99 {pct(samples, 0.99):.2f} ms, max {max(samples):.2f} ms")


META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
           "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "status"}


async def sessions(url: str, n: int = 50) -> None:
    """Each session starts its batch through the SDK (a 2026-07-28 session), then polls the
    status tool with bare stateless HTTP requests, timed from send to parsed answer: the SDK's
    own per-call work (schema validation) would otherwise dominate the figure."""
    import httpx

    status_ms: list[float] = []
    errors: list[str] = []

    async def one(i: int, http: httpx.AsyncClient) -> None:
        try:
            async with Client(url) as c:
                # A job whose work takes a while (10 steps, 300 ms apart), so the polls see it run.
                r = await c.call_tool("example_count", {"to": 10, "delay_ms": 300, "wait": False})
            if r.is_error:
                errors.append(f"{i}: start: {r.content[0].text}")
                return
            job = r.structured_content["jobId"]
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                        "params": {"name": "status", "arguments": {"id": job}, "_meta": META}}
                t = time.perf_counter()
                resp = await http.post(url, headers=HEADERS, content=json.dumps(body))
                text = resp.text
                status_ms.append((time.perf_counter() - t) * 1000)
                data = text[text.index("{"):] if text.startswith("data:") else text
                answer = json.loads(data.splitlines()[0])
                if resp.status_code != 200 or "error" in answer or answer["result"].get("isError"):
                    errors.append(f"{i}: status: {resp.status_code} {text[:200]}")
                    return
                state = answer["result"]["structuredContent"][job]["status"]
                if state in ("completed", "failed", "cancelled"):
                    if state != "completed":
                        errors.append(f"{i}: {state}")
                    return
                await asyncio.sleep(0.2)
            errors.append(f"{i}: not finished in 120 s")
        except Exception as e:  # a benchmark counts every failure
            errors.append(f"{i}: {type(e).__name__}: {e}")

    started = time.monotonic()
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        await asyncio.gather(*(one(i, http) for i in range(n)))
    print(f"{n} concurrent HTTP sessions, each a job + status polls: {len(errors)} errors, "
          f"{len(status_ms)} status calls, round trip p50 {statistics.median(status_ms):.2f} ms, "
          f"p99 {pct(status_ms, 0.99):.2f} ms, all done in {time.monotonic() - started:.1f} s")
    for e in errors[:10]:
        print("  error:", e)


if __name__ == "__main__":
    if sys.argv[1] == "latency":
        asyncio.run(latency(sys.argv[2], sys.argv[3]))
    else:
        asyncio.run(sessions(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 50))
