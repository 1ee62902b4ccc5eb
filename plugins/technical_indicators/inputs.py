"""Find the daily frames among the outputs of the previous hook."""
import pandas as pd


def is_frame_dict(value):
    """True for a non-empty dict whose values are all DataFrames."""
    return (
        isinstance(value, dict)
        and bool(value)
        and all(isinstance(frame, pd.DataFrame) for frame in value.values())
    )


def daily_frames_from_inputs(inputs):
    """The ``daily`` dicts of aggregator outputs, else plain ``{ticker: DataFrame}`` inputs.

    Indicators need the daily series; an aggregator passes it through under ``daily``.
    """
    values = list((inputs or {}).values())
    daily_dicts = [
        value["daily"] for value in values
        if isinstance(value, dict) and is_frame_dict(value.get("daily"))
    ]
    found = daily_dicts or [value for value in values if is_frame_dict(value)]
    merged = {}
    for frames in found:
        merged.update(frames)
    return merged
