"""Find ``{ticker: DataFrame}`` inputs among the outputs of the previous hook."""
import pandas as pd


def is_frame_dict(value):
    """True for a non-empty dict whose values are all DataFrames."""
    return (
        isinstance(value, dict)
        and bool(value)
        and all(isinstance(frame, pd.DataFrame) for frame in value.values())
    )


def merge_frame_dicts(frame_dicts):
    """One ``{ticker: frame}``; a ticker found in several inputs keeps each date once (last wins)."""
    merged = {}
    for frames in frame_dicts:
        for ticker, frame in frames.items():
            if ticker in merged:
                frame = pd.concat([merged[ticker], frame])
                frame = frame[~frame.index.duplicated(keep="last")].sort_index()
            merged[ticker] = frame
    return merged


def daily_frames_from_inputs(inputs):
    """Every ``{ticker: DataFrame}`` input, merged (the stock_loader output and any like it)."""
    return merge_frame_dicts(value for value in (inputs or {}).values() if is_frame_dict(value))
