"""Bolt for Python doing what enablebot-api does for a mention, for benchmarks/api-reply.sh to compare:
verify the signature, acknowledge, call the model (OpenAI-compatible, LLM_BASE_URL), reply in the mention's thread.

  LLM_BASE_URL=http://127.0.0.1:P/v1 SLACK_API_URL=http://127.0.0.1:P/api/ SLACK_SIGNING_SECRET=... \
      python3 -m uvicorn --app-dir benchmarks bolt_app:api --host 127.0.0.1 --port 3000

Multi-tenant like the benchmark's 200 seeded tenants: the bot token of team T is "xoxb-bench-T" (no database,
so Bolt is spared the installation lookup enablebot-api does). No memory of earlier turns, no usage counting.
"""
import os

import aiohttp
from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.web.async_client import AsyncWebClient

LLM_BASE_URL = os.environ["LLM_BASE_URL"].rstrip("/")
session = None


async def authorize(enterprise_id, team_id, logger):
    return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=f"xoxb-bench-{team_id}",
                           bot_user_id=f"UBOT{team_id}", bot_id=f"B{team_id}")


app = AsyncApp(signing_secret=os.environ["SLACK_SIGNING_SECRET"], authorize=authorize,
               client=AsyncWebClient(base_url=os.environ["SLACK_API_URL"]))


@app.event("app_mention")
async def mention(event, say):
    global session
    if session is None:
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512))
    async with session.post(f"{LLM_BASE_URL}/chat/completions", json={
        "model": "bench", "messages": [{"role": "user", "content": event.get("text", "")}],
    }, headers={"Authorization": "Bearer bench-key"}) as response:
        answer = (await response.json())["choices"][0]["message"]["content"]
    await say(text=answer, thread_ts=event.get("thread_ts") or event["ts"])


api = AsyncSlackRequestHandler(app)
