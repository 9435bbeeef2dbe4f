"""The section of a story: a multinomial logistic regression over hashed words and the keyword rules.

Features: hashed word unigrams and bigrams of the headline, hashed words of the text's opening
(sub-linear counts, each block L2-normalised), dense features from the rules of
:mod:`digest.intel.topics` (each topic's keyword score, the exploited claims, CVE IDs, whether an
actor is named), and, in the "+ embedding" design, wordllama's bundled 256-d static embedding of
the headline and the opening 60 words (:func:`digest.intel.story_features.embedder`, never
downloaded; zeros when the package is absent, so the words and rules still decide). Inference is a few numpy dot products; the weights ship as JSON in
``data/section_model.json`` and are rebuilt with ``digest eval-editorial --train`` from the dev
half of the real-news labels (:mod:`digest.eval.section_fit`: design, L2 and class weights chosen by
forward cross-validation on dev, earlier months fitted and later ones scored; ``bench/section_shift.py``
compares more designs the same way). Without the file the keyword rules decide, as before.

The decision is hierarchical (:func:`decide`): an item the sponsored rules flag is filed under
"other" or "industry" only, the labels' convention for ads; a clear exploited case
(:func:`clear_exploited`) goes to "exploited" whatever the model says, and a headline about legal or
police action (:func:`clear_policy`) to "policy".
"""

from __future__ import annotations

import itertools
import json
import math
import re
import zlib
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from digest.intel.topics import _COMPILED, _score
from digest.models import TopicInfo

__all__ = ["MODEL_PATH", "SECTIONS", "clear_exploited", "clear_policy", "decide", "features", "predict_section", "section_of", "train"]

MODEL_PATH = Path(__file__).with_name("data") / "section_model.json"
SECTIONS = ("exploited", "ransomware", "breach", "malware", "policy", "industry", "other")
DIM = 2048
_WORD = re.compile(r"[a-z][a-z0-9'-]+|\d+")
_RULE_TOPICS = ("ransomware", "breach", "malware", "policy", "industry")
# cue groups the keyword rules lack, each counted in the headline (x2) and the opening of the text
_CUES: dict[str, str] = {
    "incident": (r"cyber-?\ ?attacks?|cyberattacks?|hit\ by|outages?|disrupt(?:ed|ion|s)?|shut\ ?downs?|production|"
                 r"systems?\ (?:down|offline)|it\ systems|hacked|compromised|breached|intrusions?|incidents?"),
    "enforcement": (r"takedowns?|taken\ down|seiz(?:e|es|ed|ure)|arrest(?:s|ed)?|charged|sentenced|extradit\w*|sanction\w*|"
                    r"indict\w*|pleads?|pleaded|guilty|convicted|court|lawsuits?|sue[sd]?|fined?|regulators?|laws?|"
                    r"bills?|legislation|government|ministers?|minister|parliament|congress|senate|agency|authorities|"
                    r"police|fbi|europol|doj|justice|prosecutors?|treaty|pact|ban(?:s|ned)?|settle(?:s|d|ment)?|class\ action|"
                    r"prison|jail(?:ed)?|accus(?:e|es|ed)|charges|judge|ico|ncsc|signals\ directorate|officials|"
                    r"prime\ minister|pm|mp|president|state\ agency|national\ security|cyber\ ?war(?:fare)?"),
    "activity": (r"apt\d*|hacking\ group|hackers|state-(?:backed|sponsored)|campaigns?|targets?|targeting|espionage|"
                 r"phishing|scam(?:s|mers)?|deepfakes?|impersonat\w+|lures?|spying|spies|tactics|threat\ actors?"),
    "vuln": r"vulnerabilit(?:y|ies)|flaws?|patch(?:es|ed)?|cves?|zero-days?|bugs?|security\ updates?",
    "data": (r"data|records|personal\ (?:data|information)|customers?|exposed|leak(?:s|ed)?|stolen|"
             r"information|databases?|accounts"),
    "ransom": r"ransomware|ransoms?|extort\w*|leak\ sites?",
    "business": (r"acquir\w+|acquisition|funding|raises?|raised|launch(?:es|ed)?|partnerships?|market|revenue|ceo|"
                 r"startups?|investors?|products?|platforms?|customers|announc\w+|unveil\w*|ai\b|artificial\ intelligence"),
    "malware_word": (r"malware|trojans?|infostealers?|stealers?|backdoors?|rats?|loaders?|botnets?|spyware|worms?|"
                     r"rootkits?|wipers?|payloads?"),
    "report": r"report|survey|study|research(?:ers)?|analysis|warns?|experts?|trends?|predictions?",
    "explainer": (r"what\ is|what\ are|how\ to|why|tips|ways\ to|things\ to\ know|explained|explainer|opinion|"
                  r"column|podcast|interview|guide|lessons?|future\ of|role\ of|matters|should\ you|can\ you|"
                  r"careers?|schools?|quiz|reviews?|tv|film|movie|games?|xbox|tariffs?|prices|consumers|"
                  r"myths?|mistakes|questions|rethink|evolving|modern"),
    "product": (r"launch(?:es|ed)?|features?|updates?|releases?|rolls?\ out|chrome|android|ios|windows|"
                r"integrat\w+|partner\w*|platform|tools?|ai-powered|detection|protection|solutions?|"
                r"services?|capabilit\w+|introduc\w+|unveil\w*"),
}
_CUE_RE = {k: re.compile(rf"\b(?:{v})\b") for k, v in _CUES.items()}
EMB_DIM = 256
EMB_SCALE = 2.0  # the embedding block's weight beside the unit-norm word blocks (chosen by dev cross-validation)
DENSE = (*(f"rule_{t}" for t in _RULE_TOPICS), "rule_best_is", "says_exploited", "cve_exploited", "has_cve",
         "has_actor", "rule_exploited", *(f"cue_{k}" for k in _CUES), *(f"title_{k}" for k in _CUES))


def _block(tokens: Sequence[str]) -> dict[int, float]:
    counts: dict[int, float] = {}
    crc = zlib.crc32
    for t in tokens:
        k = crc(t.encode("utf-8")) % DIM
        counts[k] = counts.get(k, 0.0) + 1.0
    vec = {k: 1.0 + math.log(v) for k, v in counts.items()}
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    return {k: v / norm for k, v in vec.items()}


def embeddings(stories: Sequence[tuple[str, str]]) -> np.ndarray:
    """The scaled embedding blocks of (headline, text) pairs, one model call for all; zeros without wordllama."""
    from digest.intel.story_features import embedder

    model = embedder()
    if model is None or not stories:
        return np.zeros((len(stories), EMB_DIM))
    texts = [f"{title}. {' '.join(text.split()[:60])}" for title, text in stories]
    vecs = np.asarray(model.embed(texts), dtype=np.float64)
    return vecs * EMB_SCALE if vecs.shape == (len(stories), EMB_DIM) else np.zeros((len(stories), EMB_DIM))


def embedding(title: str, text: str) -> np.ndarray:
    """The scaled embedding block of one story (headline and opening 60 words)."""
    return embeddings([(title, text)])[0]


def needs_embedding() -> bool:
    """Whether the installed model weighs the embedding block (so a batch may compute it up front)."""
    model = _model()
    return model is not None and model[0].shape[0] > BASE


def features(title: str, text: str, *, info: TopicInfo, cve_exploited: bool, has_actor: bool,
             scores: dict[str, float] | None = None, source: str = "", embed: bool = True,
             emb: np.ndarray | None = None) -> np.ndarray:
    """The feature vector of one story: [title hash | body hash | dense rule features | embedding].

    ``embed=False`` leaves the embedding block out (the designs without it); ``emb`` is the block
    when the caller computed it already (:func:`embeddings`, one call for a batch).
    """
    tw = _WORD.findall(title.lower())
    bw = _WORD.findall(" ".join(text.split()[:300]).lower())
    title_tokens = [f"t:{w}" for w in tw] + [f"t:{a} {b}" for a, b in itertools.pairwise(tw)]
    vec = np.zeros(2 * DIM + len(DENSE), dtype=np.float64)
    for k, v in _block(title_tokens).items():
        vec[k] = v
    for k, v in _block([f"b:{w}" for w in bw] + ([f"s:{source.lower()}"] * 3 if source else [])).items():
        vec[DIM + k] += v
    tl, bl = title.lower(), " ".join(text.split()[:400]).lower()
    if scores is None:
        scores = {t: _score(_COMPILED[t], tl, bl) for t in _RULE_TOPICS}
    dense = [math.log1p(scores[t]) for t in _RULE_TOPICS]
    dense.append(1.0 if info.topic not in ("other", "exploited") else 0.0)
    dense += [1.0 if info.exploited else 0.0, 1.0 if cve_exploited else 0.0, 1.0 if info.cves else 0.0,
              1.0 if has_actor else 0.0, 1.0 if info.topic == "exploited" else 0.0]
    title_hits = [len(rx.findall(tl)) for rx in _CUE_RE.values()]
    dense += [math.log1p(2 * t + min(len(rx.findall(bl)), 6)) for t, rx in zip(title_hits, _CUE_RE.values())]
    dense += [1.0 if t else 0.0 for t in title_hits]
    vec[2 * DIM:] = dense
    if embed:
        vec = np.concatenate([vec, embedding(title, text) if emb is None else emb])
    return vec


BASE = 2 * DIM + len(DENSE)  # the features without the embedding block


@lru_cache(maxsize=1)
def _model() -> tuple[np.ndarray, np.ndarray, tuple[str, ...]] | None:
    try:
        data = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
        classes = tuple(data["classes"])
        w = np.asarray(data["weights"], dtype=np.float64)
        b = np.asarray(data["bias"], dtype=np.float64)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if w.shape[0] not in (BASE, BASE + EMB_DIM) or w.shape[1:] != (len(classes),) or b.shape != (len(classes),):
        return None
    return w, b, classes


AD_SECTIONS = ("other", "industry")  # where the labels file ads: law firms, deals, op-eds; releases, stock pieces


def clear_exploited(title: str, info: TopicInfo, cve_exploited: bool, has_actor: bool = False) -> bool:
    """The clear cases of "exploited" the model may not overrule: a CVE the text says (or KEV says) is
    exploited, or a headline about a flaw in a story whose text says it is exploited. A story about
    an actor (an advisory on a gang or a group, the CVEs it uses among its tools) is the actor's
    news, not the flaw's, unless its headline is about the flaw: the model decides it."""
    flaw_title = _CUE_RE["vuln"].search(title.lower()) is not None
    if info.cves and (cve_exploited or info.exploited) and (flaw_title or not has_actor):
        return True
    return info.exploited and flaw_title


# a headline about legal or police action: the guide's "policy" (arrests, charges, pleas, sentences,
# extraditions, takedowns and seizures, sanctions, fines, lawsuits and settlements), by phrases, not
# bare words ("fine-tuning", "clinical trial"). On the 1,498 dev titles it fires on 134, 131 "policy".
_LEGAL = re.compile(
    r"\b(?:arrest(?:s|ed)?|charged|fined|fines|fine\ of\ [$£€]|\d[\d.,]*\ ?(?:k|m|bn|million|billion)?\ fine|"
    r"sentenced|jailed|(?:to|in|faces?|facing)\ (?:jail|prison)|(?:jail|prison)\ (?:terms?|time|sentences?)|"
    r"plead(?:s|ed)?\ (?:not\ )?guilty|pleaded|guilty|indicted|indictment|"
    r"extradit\w*|sanction(?:s|ed)?|sues|sued|suing|lawsuits?|settlements?|class[- ]action|convicted|"
    r"(?:in|to|before)\ court|court\ (?:rules|ruling|orders?|case|hearing)|on\ trial|stands?\ trial|"
    r"(?:criminal|jury|fraud|murder)\ trial|trial\ (?:begins|opens|starts|date)|prosecut\w+|penalt(?:y|ies)|"
    r"takedown|taken\ down|seizure|seized\ (?:by|in)|(?:police|fbi|authorities|agencies|doj|europol|feds|"
    r"law\ enforcement|officials)\ (?:[\w'’-]+\ ){0,2}?seiz(?:e|es|ed)|seiz(?:e|es|ed)\ (?:[\w'’-]+\ ){0,2}?(?:[$£€\d]|servers?\b|domains?\b|sites?\b|websites?\b|infrastructure\b|crypto|funds\b|assets\b|accounts\b)|(?:domains?|servers?|sites?|websites?|"
    r"infrastructure|funds|crypto\w*|assets|accounts)\ (?:[\w'’-]+\ )?seized|dismantl\w+)\b")


def clear_policy(title: str) -> bool:
    """A headline about legal or police action (an arrest, a charge, a fine, a lawsuit, a seizure): "policy"."""
    return _LEGAL.search(title.lower()) is not None


def decide(logits: np.ndarray, classes: Sequence[str], *, sponsored: bool, exploited: bool,
           policy: bool = False) -> str:
    """The section from the model's scores: an ad only under :data:`AD_SECTIONS`; then the exploited
    override; then, for an item that is no ad, the legal-headline one (``policy``)."""
    allowed = np.array([not sponsored or c in AD_SECTIONS for c in classes])
    if not allowed.any():
        allowed[:] = True
    best = classes[int(np.argmax(np.where(allowed, logits, -np.inf)))]
    if exploited and "exploited" in classes:
        return "exploited"
    return "policy" if policy and not sponsored and "policy" in classes else best


def _decide_from(model: tuple[np.ndarray, np.ndarray, tuple[str, ...]], x: np.ndarray, title: str,
                 info: TopicInfo, cve_exploited: bool, has_actor: bool,
                 sponsored: bool) -> tuple[str, np.ndarray, str]:
    """The section, the model's scores and the rule that decided ("" when the model did), for features ``x``."""
    w, b, classes = model
    logits = x[: w.shape[0]] @ w + b
    exploited = clear_exploited(title, info, cve_exploited, has_actor)
    policy = clear_policy(title)
    section = decide(logits, classes, sponsored=sponsored, exploited=exploited, policy=policy)
    rule = ("exploited: a clear case" if exploited else "policy: a legal headline" if policy and not sponsored
            else "an ad: other or industry" if sponsored else "")
    return section, logits, rule


def section_of(x: np.ndarray, *, title: str, info: TopicInfo, cve_exploited: bool, has_actor: bool,
               sponsored: bool) -> str | None:
    """What :func:`predict_section` decides for a feature vector :func:`features` already built (the
    evaluation's rows); None when no model is installed."""
    model = _model()
    return None if model is None else _decide_from(model, x, title, info, cve_exploited, has_actor, sponsored)[0]


def predict_section(title: str, text: str, *, info: TopicInfo, cves: Sequence[Any], has_actor: bool,
                    scores: dict[str, float] | None = None, source: str = "", why: list[str] | None = None,
                    emb: np.ndarray | None = None, sponsored: bool = False) -> str:
    """The section key of one story (the keyword rule's topic when no model is installed).

    The model scores every section; a ``sponsored`` item is filed under "other" or "industry" only
    (a hierarchical decision: ad first, then its kind), a clear exploited case
    (:func:`clear_exploited`) goes to "exploited" whatever the model says, and a headline about
    legal action (:func:`clear_policy`) to "policy".
    """
    model = _model()
    if model is None:
        if why is not None:
            why.append(f"section {info.topic}: keyword rules (no model)")
        return info.topic
    w, _b, classes = model
    cve_exploited = any(c.exploited for c in cves)
    x = features(title, text, info=info, cve_exploited=cve_exploited, has_actor=has_actor,
                 scores=scores, source=source, embed=w.shape[0] > BASE, emb=emb)
    section, logits, rule = _decide_from(model, x, title, info, cve_exploited, has_actor, sponsored)
    if why is not None:
        p = np.exp(logits - logits.max())
        p /= p.sum()
        top = sorted(zip(classes, p), key=lambda t: -t[1])[:3]
        dense = {name: x[2 * DIM + i] for i, name in enumerate(DENSE) if x[2 * DIM + i]}
        why.append(f"section {section}: " + ", ".join(f"{c} {q:.2f}" for c, q in top)
                   + f" (model{'; ' + rule if rule else ''}; rules: {info.topic}; " + ", ".join(f"{k}={v:.2g}" for k, v in dense.items()) + ")")
    return section


def train(xs: np.ndarray, ys: Sequence[str], *, l2: float = 1e-3, epochs: int = 300,
          lr: float = 0.5, sample_weight: np.ndarray | None = None) -> dict[str, Any]:
    """Fit the weights by full-batch gradient descent (Nesterov momentum) on the softmax loss with L2.

    ``sample_weight`` weighs each article's loss (mean 1; class weights, for instance).
    Returns the model as the JSON object :func:`predict_section` reads.
    """
    from scipy import sparse

    order = {c: n for n, c in enumerate(SECTIONS)}
    classes = sorted(set(ys), key=lambda c: (order.get(c, len(order)), c))
    y = np.array([classes.index(c) for c in ys])
    x = sparse.csr_matrix(xs)
    n, d = x.shape
    k = len(classes)
    w, b = np.zeros((d, k)), np.zeros(k)
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    onehot = np.eye(k)[y]
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64) / np.mean(sample_weight)
    for _ in range(epochs):
        lw, lb = w + 0.9 * vw, b + 0.9 * vb  # look ahead
        logits = x @ lw + lb
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) * sw[:, None] / n
        vw = 0.9 * vw - lr * (x.T @ g + l2 * lw)
        vb = 0.9 * vb - lr * g.sum(axis=0)
        w, b = w + vw, b + vb
    return {"classes": classes, "dim": DIM, "dense": list(DENSE),
            "weights": np.round(w, 5).tolist(), "bias": np.round(b, 5).tolist()}
