"""Checking what a reader passes to a task model: one message for one mistake, in every model.

``TextClassifier.predict``, ``NERModel.predict`` and ``Translator.translate`` take a list of
texts; ``check_texts`` turns the mistakes real callers make into an error that names the first
bad item by its index and says what to do.
"""
from __future__ import annotations


def check_texts(texts, call: str, empty: str | None = None) -> list[str]:
    """``texts`` as a list of str, or a clear error about the first bad item.

    - a single str or bytes, not wrapped in a list: TypeError saying to wrap it (``call`` shows
      how, e.g. ``"predict([text])"``);
    - an item that is bytes: TypeError naming its index, with a decode hint;
    - any other item that is not a str: TypeError naming its index and type;
    - with ``empty`` (what the model would do with the text, e.g. ``"classify"``): an empty or
      whitespace-only item raises ValueError naming its index. Without it, empty texts pass
      (the caller answers them, e.g. NER with no entities, translation with "").
    """
    if isinstance(texts, (str, bytes, bytearray)):
        raise TypeError(f"texts must be a list of strings, not a single {type(texts).__name__}: "
                        f"wrap it, {call}")
    try:
        texts = list(texts)
    except TypeError:
        raise TypeError(f"texts must be a list of strings, not {type(texts).__name__}") from None
    for i, t in enumerate(texts):
        if isinstance(t, (bytes, bytearray)):
            raise TypeError(f"text {i} is {type(t).__name__}, not str: decode it first, "
                            "e.g. t.decode('utf-8') (or 'gbk' for files saved that way)")
        if not isinstance(t, str):
            raise TypeError(f"text {i} is a {type(t).__name__}, not a str")
        if empty is not None and not t.strip():
            raise ValueError(f"text {i} is empty or only whitespace: there is nothing to {empty}")
    return texts
