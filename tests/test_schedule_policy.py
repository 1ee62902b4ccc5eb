"""The scheduler's pure core: cron fire times across DST, catchup, overlap, pause,
policy validation, horizons and the clock — all on a FakeClock, no waiting."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from dataflow.errors import ConfigError, DataflowError
from dataflow.schedule import (FakeClock, OverlapAction, SchedulePolicy, SystemClock,
                               count_active_runs, describe_schedule, due_fires, next_fire_times,
                               overlap_action, parse_horizon, sleep_until_next)
from dataflow.statuses import RunStatus

pytestmark = pytest.mark.fast
UTC = timezone.utc
NY, BERLIN = "America/New_York", "Europe/Berlin"
CAPPED = "missed (catchup: all, beyond max_catchup: 3)"


def at(*parts, zone="UTC") -> datetime:
    """An aware UTC instant from wall-clock parts in `zone` (first one if repeated)."""
    return datetime(*parts, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def local(instants, zone) -> list[str]:
    return [t.astimezone(ZoneInfo(zone)).strftime("%m-%d %H:%M %Z") for t in instants]


def hhmm(instants) -> list[str]:
    return [f"{t:%H:%M}" for t in instants]


def fires(cron: str, zone: str, after: datetime, count: int) -> list[str]:
    """The next `count` fire times of `cron` in `zone`, as local 'MM-DD HH:MM ZONE'."""
    return local(next_fire_times(cron, zone, after, count=count), zone)


def policy(schedule="*/15 * * * *", **keys) -> SchedulePolicy:
    return SchedulePolicy(pipeline="prices", schedule=schedule, **keys)


def test_utc_cron_fire_times_are_aware_utc_after_the_start():
    times = next_fire_times("*/15 * * * *", "UTC", at(2026, 5, 4, 10, 0), count=3)
    assert times == [at(2026, 5, 4, 10, 15), at(2026, 5, 4, 10, 30), at(2026, 5, 4, 10, 45)]
    assert all(t.tzinfo is UTC for t in times)
    weekdays = next_fire_times("0 9 * * 1-5", "UTC", at(2026, 5, 8, 12), until=at(2026, 5, 12, 9))
    assert weekdays == [at(2026, 5, 11, 9), at(2026, 5, 12, 9)]       # Fri noon: Mon, Tue
    assert next_fire_times("0 9 * * *", "UTC", at(2026, 5, 8), count=0) == []
    with pytest.raises(ValueError, match="count"):
        next_fire_times("0 9 * * *", "UTC", at(2026, 5, 8))
    with pytest.raises(ValueError, match="timezone-aware"):
        next_fire_times("0 9 * * *", "UTC", datetime(2026, 5, 8), count=1)


@pytest.mark.parametrize("zone, day, summer", [
    (BERLIN, date(2026, 3, 29), "CEST"), (BERLIN, date(2027, 3, 28), "CEST"),
    (NY, date(2026, 3, 8), "EDT"), (NY, date(2027, 3, 14), "EDT")])
def test_a_skipped_wall_time_fires_once_at_the_transition(zone, day, summer):
    times = fires("30 2 * * *", zone, at(day.year, day.month, day.day - 1, 12, zone=zone), 3)
    expected = [f"03:00 {summer}", f"02:30 {summer}", f"02:30 {summer}"]   # then daily again
    assert times == [f"{day + timedelta(n):%m-%d} {t}" for n, t in enumerate(expected)]


@pytest.mark.parametrize("zone, day, wall, first, then", [
    (NY, date(2026, 11, 1), "01:30", "EDT", "EST"), (NY, date(2027, 11, 7), "01:30", "EDT", "EST"),
    (BERLIN, date(2026, 10, 25), "02:30", "CEST", "CET"),
    (BERLIN, date(2027, 10, 31), "02:30", "CEST", "CET")])
def test_a_repeated_wall_time_fires_once_at_its_first_occurrence(zone, day, wall, first, then):
    cron = f"{wall[3:]} {wall[:2]} * * *"
    times = fires(cron, zone, at(day.year, day.month, day.day, 0, 5, zone=zone), 2)
    assert times == [f"{day:%m-%d} {wall} {first}", f"{day + timedelta(1):%m-%d} {wall} {then}"]


@pytest.mark.parametrize("zone", [BERLIN, NY])
@pytest.mark.parametrize("year", [2026, 2027])
@pytest.mark.parametrize("cron", ["30 1 * * *", "30 2 * * *"])
def test_a_daily_cron_fires_exactly_once_every_day_of_the_year(zone, year, cron):
    times = next_fire_times(cron, zone, at(year, 1, 1, zone=zone),
                            until=at(year, 12, 31, 23, zone=zone))
    days = [t.astimezone(ZoneInfo(zone)).date() for t in times]
    assert days == [date(year, 1, 1) + timedelta(n) for n in range(365)]


def test_every_30_minutes_across_fall_back_gives_each_wall_time_once():
    assert fires("*/30 * * * *", NY, at(2026, 11, 1, 4), 6) == [
        "11-01 00:30 EDT", "11-01 01:00 EDT", "11-01 01:30 EDT",      # the repeated hour
        "11-01 02:00 EST", "11-01 02:30 EST", "11-01 03:00 EST"]      # does not fire again
    in_repeat = datetime(2026, 11, 1, 6, 10, tzinfo=UTC)              # 01:10 EST, second pass
    assert fires("*/30 * * * *", NY, in_repeat, 1) == ["11-01 02:00 EST"]
    assert fires("0 * * * *", BERLIN, at(2027, 10, 31, 0, 30, zone=BERLIN), 3) == [
        "10-31 01:00 CEST", "10-31 02:00 CEST", "10-31 03:00 CET"]


def test_sub_hourly_cron_across_spring_forward_collapses_the_gap_into_one_fire():
    assert fires("*/30 * * * *", BERLIN, at(2026, 3, 29, 1, 15, zone=BERLIN), 3) == [
        "03-29 01:30 CET", "03-29 03:00 CEST", "03-29 03:30 CEST"]   # 02:00, 02:30 → 03:00
    assert fires("*/30 * * * *", NY, at(2027, 3, 14, 1, 45, zone=NY), 2) == [
        "03-14 03:00 EDT", "03-14 03:30 EDT"]


def test_never_fired_counts_only_fire_times_after_the_loop_started():
    clock = FakeClock(started := at(2026, 5, 4, 10, 7))
    assert due_fires(policy(), None, clock.now(), started_at=started).fire == ()
    clock.advance(timedelta(minutes=8, seconds=5))                   # 10:15:05
    decision = due_fires(policy(), None, clock.now(), started_at=started)
    assert decision.fire == (at(2026, 5, 4, 10, 15),) and decision.dropped == ()
    assert decision.last_fired == at(2026, 5, 4, 10, 15)
    assert due_fires(policy(), decision.last_fired, clock.now(), started_at=started).fire == ()


@pytest.mark.parametrize("catchup, cap, late, fired, dropped, reason", [   # down 10:00-11:00
    ("skip", 10, 20, ["11:00"], ["10:15", "10:30", "10:45"], "missed (catchup: skip)"),
    ("skip", 10, 60, ["11:00"], ["10:15", "10:30", "10:45"], "missed (catchup: skip)"),
    ("skip", 10, 61, [], ["10:15", "10:30", "10:45", "11:00"], "missed (catchup: skip)"),
    ("latest", 10, 300, ["11:00"], ["10:15", "10:30", "10:45"], "missed (catchup: latest)"),
    ("all", 10, 300, ["10:15", "10:30", "10:45", "11:00"], [], ""),
    ("all", 3, 300, ["10:30", "10:45", "11:00"], ["10:15"], CAPPED)])
def test_catchup_after_the_scheduler_was_down(catchup, cap, late, fired, dropped, reason):
    now = at(2026, 5, 4, 11) + timedelta(seconds=late)     # `late` seconds after 11:00
    decision = due_fires(policy(catchup=catchup, max_catchup=cap), at(2026, 5, 4, 10), now,
                         started_at=now)
    assert (hhmm(decision.fire), hhmm(decision.dropped)) == (fired, dropped)
    assert decision.reason == reason
    assert decision.dropped_count == len(dropped) and decision.last_fired == at(2026, 5, 4, 11)


def test_a_long_outage_lists_only_the_newest_dropped_but_counts_all():
    now = at(2026, 5, 4, 0, 0, 10)
    decision = due_fires(policy("* * * * *"), now - timedelta(days=3), now, started_at=now)
    assert decision.fire == (at(2026, 5, 4),) and decision.dropped[-1] == at(2026, 5, 3, 23, 59)
    assert decision.dropped_count == 3 * 24 * 60 - 1 and len(decision.dropped) == 100


def test_a_paused_pipeline_fires_nothing_and_never_makes_it_up():
    start, paused = at(2026, 5, 4), policy(paused=True, catchup="all")
    held = due_fires(paused, at(2026, 5, 4, 10), at(2026, 5, 4, 10, 45), started_at=start)
    assert held.fire == () and held.dropped_count == 3 and held.reason == "paused"
    resumed = due_fires(policy(catchup="all"), held.last_fired, at(2026, 5, 4, 10, 50),
                        started_at=start)
    assert resumed.fire == () and resumed.dropped == ()
    assert describe_schedule(paused, start, timedelta(hours=1))["next_fires"] == []


def test_a_fake_clock_loop_fires_each_time_once_through_a_dst_night():
    clock, fired, last = FakeClock(at(2026, 10, 31, 23, zone=NY)), [], None
    each, started = policy("*/30 * * * *", timezone=NY, catchup="all"), clock.now()
    while clock.now() < at(2026, 11, 1, 3, 10, zone=NY):
        decision = due_fires(each, last, clock.now(), started_at=started)
        fired += [(t, clock.now()) for t in decision.fire]
        last = decision.last_fired
        assert sleep_until_next(clock, each.fire_times(last or started, count=1)[0]) <= 30
    night = [text[6:] for text in local([t for t, _ in fired], NY)]     # "HH:MM ZONE"
    assert night[3:] == ["01:00 EDT", "01:30 EDT", "02:00 EST", "02:30 EST", "03:00 EST"]
    assert len(fired) == 8 and all(seen == t for t, seen in fired)     # each fired on time
    assert max(clock.sleeps) == 30


@pytest.mark.parametrize("keys, active, action, cancel", [
    ({}, 0, OverlapAction.START, 0), ({}, 1, OverlapAction.SKIP, 0),
    ({"overlap": "queue"}, 1, OverlapAction.QUEUE, 0),
    ({"overlap": "cancel_running"}, 1, OverlapAction.CANCEL_RUNNING, 1),
    ({"overlap": "cancel_running", "max_active_runs": 2}, 3, OverlapAction.CANCEL_RUNNING, 2),
    ({"overlap": "allow"}, 50, OverlapAction.START, 0),
    ({"overlap": "allow", "max_active_runs": 2}, 2, OverlapAction.SKIP, 0),
    ({"max_active_runs": 3}, 2, OverlapAction.START, 0)])
def test_overlap_actions(keys, active, action, cancel):
    statuses = [RunStatus.RUNNING] * active + [RunStatus.COMPLETED, RunStatus.FAILED]
    decision = overlap_action(policy(**keys), count_active_runs(statuses))
    assert (decision.action, decision.cancel) == (action, cancel)
    if action != OverlapAction.START:
        assert decision.reason == (f"{active} run(s) still active, max_active_runs: "
                                   f"{keys.get('max_active_runs', 1)} "
                                   f"(overlap: {keys.get('overlap', 'skip')})")


def test_policy_defaults_and_a_full_mapping():
    default = policy()
    assert (default.timezone, default.catchup, default.max_catchup, default.overlap,
            default.max_active_runs, default.active_run_limit, default.paused,
            default.grace_seconds) == ("UTC", "skip", 10, "skip", None, 1, False, 60)
    body = {"hooks": ["load"], "schedule": "0 6 * * 1-5", "timezone": BERLIN,
            "catchup": "all", "max_catchup": 3, "overlap": "queue", "max_active_runs": 2,
            "paused": True, "grace_seconds": 120}
    built, problems = SchedulePolicy.from_mapping("prices", body)
    assert problems == [] and built.as_mapping() == {k: v for k, v in body.items() if k != "hooks"}
    assert SchedulePolicy.from_mapping("adhoc", {"hooks": ["load"]}) == (None, [])
    assert SchedulePolicy.from_mapping("adhoc", {"hooks": ["load"], "schedule": ""}) == (None, [])
    built, problems = SchedulePolicy.from_mapping("prices", ["load"])
    assert built is None and problems[0].key == "pipelines.prices"


@pytest.mark.parametrize("key, value, message, fix", [
    ("schedule", "*/10 * * *", "has 4 fields", "minute hour day-of-month month day-of-week"),
    ("schedule", "0 0 * * * *", "has 6 fields", "'*/10 * * * *'"),
    ("schedule", "61 * * * *", "invalid cron expression", "five fields"),
    ("schedule", "0 0 30 2 *", "never fires", "five fields"),
    ("timezone", "Europe/Berln", "unknown time zone 'Europe/Berln'", "'Europe/Berlin' is the"),
    ("timezone", "utc", "unknown time zone", "'UTC' is the nearest"),
    ("timezone", "Europe", "unknown time zone", "IANA"),
    ("catchup", "sometimes", "catchup must be one of skip, latest, all", "use one of"),
    ("overlap", "wait", "one of skip, queue, cancel_running, allow", "use one of"),
    ("max_catchup", 0, "at least 1", "default (10)"),
    ("max_active_runs", True, "whole number", "max_active_runs"),
    ("paused", "yes", "true or false", "paused: true"),
    ("grace_seconds", 1.5, "whole number", "default (60)")])
def test_invalid_policy_values_are_problems_with_key_and_fix(key, value, message, fix):
    body = {"schedule": "0 6 * * *", key: value}
    built, problems = SchedulePolicy.from_mapping("prices", body, file="config/pipelines.yaml")
    assert built is None and [p.key for p in problems] == [f"pipelines.prices.{key}"]
    assert message in problems[0].message and fix in problems[0].fix
    assert problems[0].file == "config/pipelines.yaml"
    with pytest.raises(ConfigError, match=f"pipelines.prices.{key}"):
        policy(**body)


def test_parse_horizon_reads_minutes_hours_and_days():
    assert [parse_horizon(text) for text in ("90m", "24h", "2d", " 12H ")] == [
        timedelta(minutes=90), timedelta(hours=24), timedelta(days=2), timedelta(hours=12)]


@pytest.mark.parametrize("text", ["", "24", "h", "1.5h", "-1h", "0h", "3w", "10000d", None])
def test_parse_horizon_refuses_bad_text_clearly(text):
    with pytest.raises(DataflowError, match="invalid horizon .*(90m, 24h, 2d|at most 366d)"):
        parse_horizon(text)


def test_describe_schedule_lists_policy_and_fires_in_utc_and_local_time():
    shown = describe_schedule(policy("0 * * * *", timezone=BERLIN),
                              at(2026, 3, 29, 0, 30), parse_horizon("3h"), limit=2)
    assert shown["pipeline"] == "prices" and shown["catchup"] == "skip" and shown["truncated"]
    assert shown["next_fires"] == [
        {"utc": "2026-03-29T01:00:00+00:00", "local": "2026-03-29T03:00:00+02:00"},
        {"utc": "2026-03-29T02:00:00+00:00", "local": "2026-03-29T04:00:00+02:00"}]


def test_clocks_are_aware_utc_and_sleeps_are_bounded():
    assert SystemClock().now().tzinfo is UTC
    clock = FakeClock(datetime(2026, 5, 4, 12, tzinfo=ZoneInfo(BERLIN)))
    assert clock.now() == at(2026, 5, 4, 10) and clock.now().tzinfo is UTC
    assert sleep_until_next(clock, at(2026, 5, 4, 11)) == 30
    assert clock.now() == at(2026, 5, 4, 10, 0, 30)
    assert sleep_until_next(clock, at(2026, 5, 4, 10, 0, 40)) == 10
    assert sleep_until_next(clock, at(2026, 5, 4, 9)) == 0 and clock.sleeps == [30, 10]
    assert sleep_until_next(clock, None) == 30
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        FakeClock(datetime(2026, 5, 4))
