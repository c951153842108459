"""Run code in a user server's kernel over its websocket, as JupyterLab does.

For the tests and the benchmarks (it needs `websockets`, a test dependency;
the operator's CLI never imports this module).
"""

from __future__ import annotations

import asyncio
import json
import uuid

from swarmhub.hubclient import Browser


async def run_cell(browser: Browser, kernel_id: str, code: str, timeout: float = 60.0) -> str:
    """Run `code` over the kernel's websocket with the browser's cookies."""
    ws_url = browser.url.replace("http", "ws", 1)
    url = f"{ws_url}/user/{browser.user}/api/kernels/{kernel_id}/channels"
    cookies = "; ".join(f"{c.name}={c.value}" for c in browser.session.cookies)
    xsrf = browser.xsrf_headers()["X-XSRFToken"]
    return await execute(url, {"Cookie": cookies, "X-XSRFToken": xsrf}, code, timeout)


async def execute(url: str, headers: dict[str, str], code: str, timeout: float = 60.0,
                  *, until_busy: bool = False) -> str:  # fmt: skip
    """Run `code` in a kernel over its websocket at `url`; what it printed or returned.

    until_busy: return as soon as the kernel reports busy (the code keeps running).
    """
    import websockets

    msg_id = uuid.uuid4().hex
    request = {
        "header": {
            "msg_id": msg_id,
            "username": "",
            "session": uuid.uuid4().hex,
            "msg_type": "execute_request",
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": {"code": code, "silent": False, "store_history": False},
        "channel": "shell",
        "buffers": [],
    }
    out: list[str] = []

    async def talk() -> str:
        async with websockets.connect(url, additional_headers=headers, open_timeout=30) as ws:
            await ws.send(json.dumps(request))
            while True:
                msg = json.loads(await ws.recv())
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = msg["msg_type"]
                state = msg["content"].get("execution_state")
                if until_busy and kind == "status" and state == "busy":
                    return ""
                if kind == "stream":
                    out.append(msg["content"]["text"])
                elif kind == "execute_result":
                    out.append(msg["content"]["data"]["text/plain"])
                elif kind == "error":
                    raise RuntimeError(f"kernel error: {msg['content']}")
                elif kind == "status" and state == "idle":
                    return "".join(out)

    return await asyncio.wait_for(talk(), timeout)
