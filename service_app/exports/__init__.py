"""Exports: roster workbooks for the street offices (说明, 汇总, one sheet per tier) and packs of them."""
