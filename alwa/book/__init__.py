"""The book: execute the notebooks, write the generated pages, build the HTML (:mod:`~alwa.book.build`)."""
