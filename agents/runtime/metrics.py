"""Prometheus metrics of one process, in a registry of its own (passed explicitly, no globals).
Gauges that describe shared state (open requests, the job stream) are read from Redis when
scraped, so every process reports the same numbers for them."""

from __future__ import annotations

import time
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from redis.asyncio import Redis

from agents.runtime import keys
from agents.runtime.deadlines import Deadlines
from agents.runtime.events import HUMAN_INTENTS, Error, Event, ToolCall
from agents.runtime.types import Model, ModelReply, ModelRequest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.step_seconds = Histogram(
            "hitl_step_seconds",
            "Time to take one agent step",
            ["agent"],
            registry=r,
            buckets=LATENCY_BUCKETS,
        )
        self.llm_seconds = Histogram(
            "hitl_llm_seconds",
            "Time of one model call",
            ["agent"],
            registry=r,
            buckets=LATENCY_BUCKETS,
        )
        self.llm_tokens = Counter(
            "hitl_llm_tokens", "Model tokens used", ["agent", "direction"], registry=r
        )
        self.errors = Counter("hitl_errors", "Error events in threads", ["agent"], registry=r)
        self.resumes = Counter(
            "hitl_resumes",
            "Human answers and decisions that resumed a thread",
            ["kind"],
            registry=r,
        )
        self.waiting = Gauge("hitl_waiting_requests", "Open human requests", ["kind"], registry=r)
        self.stream_lag = Gauge("hitl_stream_lag", "Jobs no worker has taken yet", registry=r)
        self.stream_pending = Gauge(
            "hitl_stream_pending", "Jobs taken by a worker and not finished", registry=r
        )
        self.delivery_retries = Counter(
            "hitl_delivery_retries",
            "Deliveries put off because Slack could not be reached (5xx, 429, timeout)",
            registry=r,
        )
        self.delivery_refusals = Counter(
            "hitl_delivery_refusals",
            "Messages Slack refused for good; a fallback was shown and an error event recorded",
            registry=r,
        )
        self.repairs = Counter(
            "hitl_reconciler_repairs",
            "Threads the reconciler found stuck and sent a job for (this process)",
            registry=r,
        )
        self.unreviewed = Gauge(
            "hitl_break_glass_unreviewed",
            "Break-glass approvals nobody has acknowledged yet",
            registry=r,
        )
        self.stuck = Gauge(
            "hitl_stuck_threads",
            "Threads the last reconciler pass found running or undelivered with no job in flight",
            registry=r,
        )

    def stepped(self, agent: str, seconds: float, new_events: Sequence[Event]) -> None:
        self.step_seconds.labels(agent).observe(seconds)
        for event in new_events:
            usage = event.usage if isinstance(event, ToolCall | Error) else None
            if usage is not None:
                self.llm_tokens.labels(agent, "input").inc(usage.input_tokens)
                self.llm_tokens.labels(agent, "output").inc(usage.output_tokens)
            if isinstance(event, Error):
                self.errors.labels(agent).inc()

    def resumed(self, event: Event) -> None:
        self.resumes.labels(event.type).inc()

    async def render(self, redis: Redis) -> bytes:
        """The text exposition, with the shared gauges read from Redis now."""
        deadlines = Deadlines(redis)
        waiting = await deadlines.waiting()
        self.unreviewed.set(await deadlines.unreviewed())
        for intent in sorted(HUMAN_INTENTS):
            self.waiting.labels(intent).set(waiting.get(intent, 0))
        groups = await redis.xinfo_groups(keys.jobs()) if await redis.exists(keys.jobs()) else []
        group = next(
            (g for g in groups if g["name"] in (keys.JOBS_GROUP, keys.JOBS_GROUP.encode())), None
        )
        self.stream_lag.set(float(group.get("lag") or 0) if group else 0)
        self.stream_pending.set(float(group.get("pending") or 0) if group else 0)
        self.stuck.set(float(await redis.get(keys.stuck_count()) or 0))
        return generate_latest(self.registry)


class TimedModel:
    """A model whose calls are timed into the metrics; answers are passed through unchanged."""

    def __init__(self, model: Model, metrics: Metrics) -> None:
        self._model = model
        self._metrics = metrics

    async def next_step(self, request: ModelRequest) -> ModelReply:
        started = time.perf_counter()
        try:
            return await self._model.next_step(request)
        finally:
            self._metrics.llm_seconds.labels(request.agent).observe(time.perf_counter() - started)
