"""Write indicator tables to ``indicators``: one document per ticker and date."""
from dataflow.frames import frame_to_documents, replace_documents

COLLECTION = "indicators"


def store_tables(db, tables):
    """Replace each ticker's indicator documents over the dates of its table."""
    collection = db[COLLECTION]
    written = 0
    for ticker, table in tables.items():
        if table.empty:
            continue
        query = {
            "ticker": ticker,
            "date": {
                "$gte": table.index.min().to_pydatetime(),
                "$lte": table.index.max().to_pydatetime(),
            },
        }
        written += replace_documents(collection, query, frame_to_documents(table, ticker=ticker))
    return written
