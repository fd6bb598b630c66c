"""Jieba tokenizer that normalises the message first and never emits whitespace tokens."""

from __future__ import annotations

import glob
import hashlib
import logging
import os
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.exceptions import RasaException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from erma_nlu.text_normalization import normalize_text

logger = logging.getLogger(__name__)

BUILD_HINT = (
    "Generate it first: /tmp/venv-rasa/bin/python scripts/build_jieba_dict.py "
    "(writes var/jieba_dict/)."
)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True
)
class ErmaJiebaTokenizer(JiebaTokenizer):
    """``JiebaTokenizer`` for resident messages.

    * Normalises ``text`` in place (Traditional → Simplified, full-width → half-width, NFKC,
      lower-case Latin) with a length-preserving mapping, so entity offsets computed by the
      extractors that run afterwards are also offsets into the original message.  Training
      examples go through the same function, so training and prediction see the same text.
    * ``hmm`` (default ``False``): jieba's HMM guesses words for unknown character runs; on
      colloquial messages it glues particles onto neighbours (叫何/建国, 路想, 办个), which
      misaligns names and item spans.  With ``hmm: false`` unknown runs become single
      characters and the char n-gram featurizer carries the meaning.
    * Drops whitespace-only tokens (RasaHQ/rasa#7910: they break DIET on mixed Chinese/Latin
      text with spaces).
    * Fails loudly when the configured user dictionary folder is missing or empty instead of
      silently training without it, and puts the dictionary's content into the component's
      fingerprint so a changed dictionary invalidates Rasa's training cache.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**JiebaTokenizer.get_default_config(), "hmm": False}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "ErmaJiebaTokenizer":
        dictionary_path = config.get("dictionary_path")
        if dictionary_path is not None and not glob.glob(f"{dictionary_path}/*"):
            raise RasaException(
                f"Jieba user dictionary folder '{dictionary_path}' is missing or empty. "
                + BUILD_HINT
            )
        return super().create(config, model_storage, resource, execution_context)

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        dictionary_path = config.get("dictionary_path")
        if not dictionary_path or not os.path.isdir(dictionary_path):
            return None
        digest = hashlib.sha256()
        for path in sorted(glob.glob(f"{dictionary_path}/*")):
            digest.update(os.path.basename(path).encode("utf-8"))
            with open(path, "rb") as handle:
                digest.update(handle.read())
        return digest.hexdigest()

    @staticmethod
    def _normalize_message_text(message: Message) -> None:
        text = message.get(TEXT)
        if isinstance(text, str) and text:
            normalized = normalize_text(text)
            if normalized != text:
                message.set(TEXT, normalized)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self._normalize_message_text(example)
        return super().process_training_data(training_data)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._normalize_message_text(message)
        return super().process(messages)

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        import jieba

        text = message.get(attribute)
        tokens = [
            Token(word, start)
            for (word, start, _end) in jieba.tokenize(text, HMM=bool(self._config.get("hmm")))
            if word.strip()
        ]
        return self._apply_token_pattern(tokens)
