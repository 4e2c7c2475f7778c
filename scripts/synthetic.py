"""Generate a SYNTHETIC digest corpus for benchmarks: realistic lengths and vocabulary,
no real news. Every title starts with "[synthetic]".

Text comes from a word-bigram chain trained on seeds/, so word frequencies and
sentence lengths resemble the real digests; the content is nonsense by design.

    .venv/bin/python scripts/synthetic.py --passages 10000 --out /tmp/synth-10k
"""

from __future__ import annotations

import argparse
import random
import re
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOSTS = [
    "bbc.com",
    "reuters.com",
    "theguardian.com",
    "apnews.com",
    "aljazeera.com",
    "nytimes.com",
    "dw.com",
    "news.sky.com",
    "bloomberg.com",
    "politico.eu",
]
PASSAGES_PER_CLUSTER = 9  # 1 summary + ~4.5 key points + ~3.5 articles, as in seeds/


class Chain:
    """A word-bigram chain over the seed corpus."""

    def __init__(self, text: str, rng: random.Random) -> None:
        self.rng = rng
        words = re.findall(r"[\w'’.,-]+", text)
        self.next: dict[str, list[str]] = defaultdict(list)
        for a, b in zip(words, words[1:], strict=False):
            self.next[a].append(b)
        self.starts = [w for w in self.next if w[:1].isupper()]

    def sentence(self, n_words: int) -> str:
        word = self.rng.choice(self.starts)
        out = [word]
        while len(out) < n_words:
            options = self.next.get(word)
            word = self.rng.choice(options) if options else self.rng.choice(self.starts)
            out.append(word)
        return " ".join(out).rstrip(".,") + "."

    def paragraph(self, low: int, high: int) -> str:
        words = self.rng.randint(low, high)
        parts, total = [], 0
        while total < words:
            n = self.rng.randint(12, 28)
            parts.append(self.sentence(n))
            total += n
        return " ".join(parts)


def cluster_text(chain: Chain, rng: random.Random, day: date, number: int) -> str:
    n_articles = rng.randint(2, 5)
    hosts = rng.sample(HOSTS, n_articles)
    lines = [
        "[synthetic] " + chain.sentence(rng.randint(7, 12)).rstrip("."),
        "",
        f"Date: {day:%d-%m-%Y}",
        "Sources: " + " | ".join(f"{h}: 1" for h in hosts),
        f"Image for cluster {number}",
        "Image Prompt:",
        "",
        chain.paragraph(40, 60),
        "",
        "Summary",
        "",
        chain.paragraph(50, 75),
        "",
        "Key Points",
        "",
    ]
    lines += [f"  \u2022 {chain.sentence(rng.randint(14, 26))}" for _ in range(rng.randint(3, 6))]
    lines += ["", "Articles in this Cluster", ""]
    for _ in range(n_articles):
        entities = ", ".join(chain.sentence(2).rstrip(".") for _ in range(rng.randint(3, 6)))
        lines += [
            chain.sentence(rng.randint(8, 14)).rstrip("."),
            "",
            chain.paragraph(90, 150),
            f"Entities: {entities}Tone: neutralSentiment: {rng.choice(['positive', 'negative', 'neutral', 'mixed'])}Intent: inform",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def generate(passages: int, out: Path, seed: int = 7, per_file: int = 20) -> int:
    """Write about `passages` passages of digests into `out`; returns the cluster count."""
    rng = random.Random(seed)
    corpus = "\n".join(
        p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))
    )
    chain = Chain(corpus, rng)
    out.mkdir(parents=True, exist_ok=True)
    n_clusters = max(1, passages // PASSAGES_PER_CLUSTER)
    start = date(2024, 1, 1)
    written = 0
    file_index = 0
    while written < n_clusters:
        day = start + timedelta(days=file_index)
        count = min(per_file, n_clusters - written)
        body = [f"{day:%d-%m-%Y}", ""]
        for number in range(1, count + 1):
            body.append(cluster_text(chain, rng, day, number))
        (out / f"synthetic_{day:%Y-%m-%d}.txt").write_text("\n".join(body), encoding="utf-8")
        written += count
        file_index += 1
    return n_clusters


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--passages", type=int, default=10_000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    n = generate(args.passages, args.out, args.seed)
    print(f"wrote {n} synthetic clusters (~{n * PASSAGES_PER_CLUSTER} passages) to {args.out}")


if __name__ == "__main__":
    main()
