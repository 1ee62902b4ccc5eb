"""Parts of pages: the JSON Schema form, charts (graph, Gantt, machine), tables, action bars."""
