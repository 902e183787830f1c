"""Widgets shared by the cronops views: the sortable, filterable, capped table and cell formats.

Kept free of any one view's data so each view stays a list of columns and a way to read rows."""
