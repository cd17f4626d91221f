"""Where the course's ideas come from: the papers it cites and the SparrowRecSys files it mirrors.

Every chapter ends with a "Further reading" list whose entries link here: papers by DOI or
arXiv, SparrowRecSys's source files on GitHub at a pinned commit (so a link shows the code
the chapter was written against, not whatever the repository holds today)::

    from sparrow_course import sources
    sources.PAPERS["EGES"].url             # 'https://arxiv.org/abs/1803.02349'
    sources.sparrowrecsys("Embedding.scala")
    sources.further_reading("EGES", "DeepWalk", code=("Embedding.scala",))   # Markdown list

``tests/test_sources.py`` checks that every link is well formed and that every notebook's
"Further reading" entries carry one (no network at test time).
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

__all__ = ["Paper", "PAPERS", "SPARROWRECSYS_REPOSITORY", "SPARROWRECSYS_FILES", "COURSE", "sparrowrecsys",
           "further_reading"]


class Paper(NamedTuple):
    """A cited work: who, what, where, and a stable link (DOI or arXiv)."""

    citation: str
    url: str


PAPERS: dict[str, Paper] = {
    # 01 network depth
    "YouTube DNN": Paper("Covington, Adams, Sargin, *Deep Neural Networks for YouTube Recommendations*, RecSys 2016",
                         "https://doi.org/10.1145/2959100.2959190"),
    "Wide & Deep": Paper("Cheng et al., *Wide & Deep Learning for Recommender Systems*, DLRS 2016",
                         "https://arxiv.org/abs/1606.07792"),
    "DeepFM": Paper("Guo et al., *DeepFM: A Factorization-Machine based Neural Network for CTR Prediction*, IJCAI 2017",
                    "https://arxiv.org/abs/1703.04247"),
    "DCN": Paper("Wang, Fu, Fu, Wang, *Deep & Cross Network for Ad Click Predictions*, ADKDD 2017",
                 "https://arxiv.org/abs/1708.05123"),
    "DIN": Paper("Zhou et al., *Deep Interest Network for Click-Through Rate Prediction*, KDD 2018",
                 "https://arxiv.org/abs/1706.06978"),
    "ResNet": Paper("He, Zhang, Ren, Sun, *Deep Residual Learning for Image Recognition*, CVPR 2016",
                    "https://arxiv.org/abs/1512.03385"),
    "BatchNorm": Paper("Ioffe, Szegedy, *Batch Normalization*, ICML 2015", "https://arxiv.org/abs/1502.03167"),
    "Adam": Paper("Kingma, Ba, *Adam: A Method for Stochastic Optimization*, ICLR 2015",
                  "https://arxiv.org/abs/1412.6980"),
    "Adagrad": Paper("Duchi, Hazan, Singer, *Adaptive Subgradient Methods for Online Learning and Stochastic "
                     "Optimization*, JMLR 2011", "https://jmlr.org/papers/v12/duchi11a.html"),
    # 02 load balancing
    "Consistent hashing": Paper("Karger et al., *Consistent Hashing and Random Trees*, STOC 1997",
                                "https://doi.org/10.1145/258533.258660"),
    "Jump hash": Paper("Lamping, Veach, *A Fast, Minimal Memory, Consistent Hash Algorithm*, 2014",
                       "https://arxiv.org/abs/1406.2294"),
    "Bounded loads": Paper("Mirrokni, Thorup, Zadimoghaddam, *Consistent Hashing with Bounded Loads*, SODA 2018",
                           "https://arxiv.org/abs/1608.01350"),
    "Two choices": Paper("Mitzenmacher, *The Power of Two Choices in Randomized Load Balancing*, IEEE TPDS 2001",
                         "https://doi.org/10.1109/71.963420"),
    # 03 caching
    "Che": Paper("Che, Tung, Wang, *Hierarchical Web Caching Systems: Modeling, Design and Experimental Results*, "
                 "IEEE JSAC 2002", "https://doi.org/10.1109/JSAC.2002.801752"),
    "Che, generalised": Paper("Fricker, Robert, Roberts, *A Versatile and Accurate Approximation for LRU Cache "
                              "Performance*, ITC 2012", "https://arxiv.org/abs/1202.3974"),
    "TinyLFU": Paper("Einziger, Friedman, Manes, *TinyLFU: A Highly Efficient Cache Admission Policy*, 2015",
                     "https://arxiv.org/abs/1512.00727"),
    # 04 cold start, 06 graph embedding
    "Airbnb": Paper("Grbovic, Cheng, *Real-time Personalization using Embeddings for Search Ranking at Airbnb*, "
                    "KDD 2018", "https://doi.org/10.1145/3219819.3219885"),
    "EGES": Paper("Wang et al., *Billion-scale Commodity Embedding for E-commerce Recommendation in Alibaba*, KDD 2018",
                  "https://arxiv.org/abs/1803.02349"),
    "DeepWalk": Paper("Perozzi, Al-Rfou, Skiena, *DeepWalk: Online Learning of Social Representations*, KDD 2014",
                      "https://arxiv.org/abs/1403.6652"),
    "node2vec": Paper("Grover, Leskovec, *node2vec: Scalable Feature Learning for Networks*, KDD 2016",
                      "https://arxiv.org/abs/1607.00653"),
    "word2vec, skip-gram": Paper("Mikolov, Chen, Corrado, Dean, *Efficient Estimation of Word Representations in "
                                 "Vector Space*, ICLR Workshop 2013", "https://arxiv.org/abs/1301.3781"),
    "word2vec": Paper("Mikolov et al., *Distributed Representations of Words and Phrases and their "
                      "Compositionality*, NeurIPS 2013", "https://arxiv.org/abs/1310.4546"),
    "item2vec": Paper("Barkan, Koenigstein, *Item2Vec: Neural Item Embedding for Collaborative Filtering*, 2016",
                      "https://arxiv.org/abs/1603.04259"),
    "word2vec for recommendations": Paper("Caselles-Dupré, Lesaint, Royo-Letelier, *Word2vec applied to "
                                          "Recommendation: Hyperparameters Matter*, RecSys 2018",
                                          "https://arxiv.org/abs/1804.04212"),
    # 05 tags, 07 LSH
    "MovieLens": Paper("Harper, Konstan, *The MovieLens Datasets: History and Context*, ACM TiiS 2015",
                       "https://doi.org/10.1145/2827872"),
    "Tag genome": Paper("Vig, Sen, Riedl, *The Tag Genome: Encoding Community Knowledge to Support Novel "
                        "Interaction*, ACM TiiS 2012", "https://doi.org/10.1145/2362394.2362395"),
    "p-stable LSH": Paper("Datar, Immorlica, Indyk, Mirrokni, *Locality-Sensitive Hashing Scheme Based on p-Stable "
                          "Distributions*, SoCG 2004", "https://doi.org/10.1145/997817.997857"),
    "HNSW": Paper("Malkov, Yashunin, *Efficient and Robust Approximate Nearest Neighbor Search Using Hierarchical "
                  "Navigable Small World Graphs*, IEEE TPAMI 2020", "https://arxiv.org/abs/1603.09320"),
    "faiss": Paper("Johnson, Douze, Jégou, *Billion-scale Similarity Search with GPUs*, IEEE TBD 2021",
                   "https://arxiv.org/abs/1702.08734"),
    # 08 Spark
    "Spark": Paper("Zaharia et al., *Resilient Distributed Datasets*, NSDI 2012",
                   "https://www.usenix.org/conference/nsdi12/technical-sessions/presentation/zaharia"),
}

#: SparrowRecSys on GitHub.
SPARROWRECSYS_REPOSITORY = "https://github.com/wzhe06/SparrowRecSys"

# path in the repository, and the commit each link is pinned to (one the file exists at)
SPARROWRECSYS_FILES: dict[str, tuple[str, str]] = {
    "Embedding.scala": ("src/main/java/com/sparrowrecsys/offline/spark/embedding/Embedding.scala",
                        "86bc669a72cc6b04df767ba02ffed2c05f016ea1"),
    "FeatureEngForRecModel.scala": ("src/main/java/com/sparrowrecsys/offline/spark/featureeng/"
                                    "FeatureEngForRecModel.scala", "b6e1cbf752e9ea5d2b70755851d2cdda811e9ad3"),
    "RecSysServer.java": ("src/main/java/com/sparrowrecsys/online/RecSysServer.java",
                          "b6e1cbf752e9ea5d2b70755851d2cdda811e9ad3"),
    "RedisClient.java": ("src/main/java/com/sparrowrecsys/online/datamanager/RedisClient.java",
                         "b6e1cbf752e9ea5d2b70755851d2cdda811e9ad3"),
    "DataManager.java": ("src/main/java/com/sparrowrecsys/online/datamanager/DataManager.java",
                         "b6e1cbf752e9ea5d2b70755851d2cdda811e9ad3"),
    "RecForYouProcess.java": ("src/main/java/com/sparrowrecsys/online/recprocess/RecForYouProcess.java",
                              "b6e1cbf752e9ea5d2b70755851d2cdda811e9ad3"),
    "SimilarMovieProcess.java": ("src/main/java/com/sparrowrecsys/online/recprocess/SimilarMovieProcess.java",
                                 "b6e1cbf752e9ea5d2b70755851d2cdda811e9ad3"),
    "RecForYouService.java": ("src/main/java/com/sparrowrecsys/online/service/RecForYouService.java",
                              "b6e1cbf752e9ea5d2b70755851d2cdda811e9ad3"),
    "Embedding.java": ("src/main/java/com/sparrowrecsys/online/model/Embedding.java",
                       "b6e1cbf752e9ea5d2b70755851d2cdda811e9ad3"),
    "DIN.py": ("TFRecModel/src/com/sparrowrecsys/offline/tensorflow/DIN.py",
               "e4ff6ed402d09c688804529812dbd9cb69fab9db"),
    "DeepFM.py": ("TFRecModel/src/com/sparrowrecsys/offline/tensorflow/DeepFM.py",
                  "e4ff6ed402d09c688804529812dbd9cb69fab9db"),
    "EmbeddingMLP.py": ("TFRecModel/src/com/sparrowrecsys/offline/tensorflow/EmbeddingMLP.py",
                        "b6e1cbf752e9ea5d2b70755851d2cdda811e9ad3"),
    "NeuralCF.py": ("TFRecModel/src/com/sparrowrecsys/offline/tensorflow/NeuralCF.py",
                    "e4ff6ed402d09c688804529812dbd9cb69fab9db"),
}

#: The course these notebooks accompany, and the lesson they answer.
COURSE = ("王喆 (Wang Zhe), *深度学习推荐系统实战* (Deep Learning Recommender Systems in Practice), with its project "
          f"[SparrowRecSys]({SPARROWRECSYS_REPOSITORY}); the chapters answer its Q&A lesson on model depth, online "
          "serving and recall")


def sparrowrecsys(name: str) -> str:
    """The pinned GitHub link of one SparrowRecSys file, by its file name (a key of SPARROWRECSYS_FILES)."""
    if name not in SPARROWRECSYS_FILES:
        raise ValueError(f"unknown SparrowRecSys file {name!r}: expected one of {sorted(SPARROWRECSYS_FILES)}")
    path, commit = SPARROWRECSYS_FILES[name]
    return f"{SPARROWRECSYS_REPOSITORY}/blob/{commit}/{path}"


def further_reading(*papers: str, code: Sequence[str] = ()) -> str:
    """A Markdown "Further reading" list: the named papers, then the SparrowRecSys files, then the course."""
    unknown = [p for p in papers if p not in PAPERS]
    if unknown:
        raise ValueError(f"unknown paper(s) {unknown}: expected keys of sources.PAPERS")
    lines = [f"- {PAPERS[p].citation}: <{PAPERS[p].url}>" for p in papers]
    lines += [f"- SparrowRecSys, [`{name}`]({sparrowrecsys(name)})" for name in code]
    lines.append(f"- {COURSE}.")
    return "\n".join(lines)
