"""Presentation: figures (:mod:`~alwa.report.plots`), text tables (:mod:`~alwa.report.tables`), the notebooks' helpers
(:mod:`~alwa.report.notebook`) and the book's generated pages from templates (:mod:`~alwa.report.pages`)."""
