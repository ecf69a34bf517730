#!/usr/bin/env bash
# The Fashion-MNIST benchmarks of the cpu preset (`nbt build-bench --list`), two shards at a time
# (one per core), each resumable: run this script again after a stop or a kill and every shard
# continues from its journal. Needs Fashion-MNIST (`apt-get install dataset-fashion-mnist`).
# Writes nb201_fmnist_v2.h5, nb201_fmnist_n3_v2.h5 and nb101_mixpath_fmnist_v2.h5 into OUTDIR.
# The embedded stores nb201-fmnist, nb201-fmnist-n3 and nb101-mixpath-fmnist are its three
# outputs (about 3.7 hours of wall time on a 2-core machine, stopped and resumed; data/README.md).
# The -v1 stores were built by this script as of commit 8b0babf, when `cpu` named the preset now
# called `cpu-v1`, writing the same names without `_v2` (about 5.3 hours).
# Usage: bash data/builds/build_fmnist.sh OUTDIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: build_fmnist.sh OUTDIR}"
mkdir -p "$out" && cd "$out"

shards() {  # shards NAME ARGS...: the two shards in parallel, then their merge
  local name=$1; shift
  if [ ! -e "$name.h5" ]; then
    for i in 0 1; do
      [ -e "$name.part$i.h5" ] || nbt build-bench "$@" --shard "$i/2" --out "$name.part$i.h5" &
    done
    wait
    nbt build-bench --merge "$name.part0.h5" "$name.part1.h5" --out "$name.h5"
  fi
}

# 200 NB201 isomorphism classes (one representative each, a seeded uniform sample), 2 seeds, N=1
shards nb201_fmnist_v2 --preset cpu --space nb201 --archs all --per-class --sample 200 --seed 0 \
  --seeds 0,1
# 32 of the 200 classes again at N=3 (the depth-gap study), seed 0 (the N=1 seeds give the noise
# floor the depth gap is compared with)
shards nb201_fmnist_n3_v2 --preset cpu --N 3 --space nb201 \
  --archs-file "$here/nb201_fmnist_depth32.txt" --seeds 0
# the 34 distinct NB101 graphs of MixPath's 4-node sub-space, 2 seeds
shards nb101_mixpath_fmnist_v2 --preset cpu --space nb101 --archs mixpath-nb101 --seeds 0,1
