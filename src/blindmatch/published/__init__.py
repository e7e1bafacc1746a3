"""Published sets: a publisher's OPRF tags in a compact file that queriers look their own tags up in.

* :mod:`~blindmatch.published.tagset` -- :func:`~blindmatch.published.tagset.encode_tags`,
  :class:`~blindmatch.published.tagset.TagSet` and :func:`~blindmatch.published.tagset.bits_for`: a
  Golomb-Rice coded set of fixed-length tags (format in that module's docstring).
"""
