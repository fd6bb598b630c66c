"""Custom Rasa NLU components for Erma Cloud (尔玛云).

Reference them in config.yml by module path, with the repository root as the working directory:

    - name: erma_nlu.tokenizer.ErmaJiebaTokenizer
    - name: erma_nlu.entity_postprocessor.ErmaEntityPostprocessor

``erma_nlu.text_normalization`` and ``erma_nlu.entity_values`` are plain functions with no Rasa
import; ``erma_nlu.service_resolver`` maps a service phrase to catalog codes offline (used by the
NLU evaluation when the platform is not running).
"""
