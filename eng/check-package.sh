#!/usr/bin/env bash
# Packs the library MLNet.Bayesian and checks the package the way a user's application meets it:
#   1. the nuspec depends on TorchSharp but on no native LibTorch package (libtorch-*, TorchSharp-cpu,
#      TorchSharp-cuda-*): the application picks its own, as with TorchSharp's packages;
#   2. the package has its readme (PACKAGE.md) and buildTransitive/MLNet.Bayesian.targets (the libstdc++ fix);
#   3. a throwaway console app outside the repository, referencing the fresh package from a local folder and
#      the host's libtorch-cpu package, compiles the readme's C# snippet, trains a tiny 2DGBNN on random
#      images through the plain API and predicts.
# Prints "package check: ok" at the end; any failure exits non-zero with a line saying what failed.
#   bash eng/check-package.sh            (about 15-30 s on 2 cores when the NuGet cache already holds the packages)
# Every run packs a unique prerelease version (<Version>-check.<UTC time>.<pid>), so a copy of an earlier run
# can never be restored instead of the fresh one. The consumer restores into its own temporary packages folder
# (the user's global packages folder serves as a read-only fallback, so LibTorch is not extracted again);
# the user's NuGet configuration and caches are left as they are. Temporary files are removed on exit
# (MLNET_BAYESIAN_CHECK_KEEP=1 keeps them).
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 DOTNET_GENERATE_ASPNET_CERTIFICATE=false
started=$SECONDS

fail() { echo "package check: FAILED: $*" >&2; exit 1; }
step() { echo "== package check: $*"; }

command -v dotnet >/dev/null || fail "the .NET SDK is required (dotnet not found on PATH)"
command -v python3 >/dev/null || fail "python3 is required to read the .nupkg"

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) native_package=libtorch-cpu-linux-x64 ;;
  Darwin-arm64) native_package=libtorch-cpu-osx-arm64 ;;
  *) fail "no CPU LibTorch package is known for host $(uname -s)-$(uname -m) (Linux x64 or macOS arm64 expected)" ;;
esac
libtorch_version=$(sed -n 's:.*<LibTorchVersion>\(.*\)</LibTorchVersion>.*:\1:p' Directory.Packages.props)
[ -n "$libtorch_version" ] || fail "LibTorchVersion not found in Directory.Packages.props"

# The user's global packages folder (honours NUGET_PACKAGES), read before any config of ours exists.
user_packages=$(dotnet nuget locals global-packages --list | sed -n 's/^global-packages: *//p' | tr -d '\r')

work=$(mktemp -d "${TMPDIR:-/tmp}/mlnet-bayesian-package-check.XXXXXX")
# MLNET_BAYESIAN_CHECK_KEEP=1 keeps the temporary folder (package, consumer app, logs) for a look afterwards.
if [ "${MLNET_BAYESIAN_CHECK_KEEP:-}" = 1 ]; then
  trap 'echo "package check: kept $work"' EXIT
else
  trap 'rm -rf "$work"' EXIT
fi
feed=$work/feed
mkdir -p "$feed" "$work/consumer" "$work/packages"

# --- 1. pack -------------------------------------------------------------------------------------------------
base_version=$(dotnet msbuild src/MLNet.Bayesian -getProperty:Version | tr -d '\r' | tail -n 1)
[ -n "$base_version" ] || fail "could not read the library's Version"
version="$base_version-check.$(date -u +%Y%m%d%H%M%S).$$"
step "packing MLNet.Bayesian $version"
# PackageVersion (not Version) so that the compiled library stays the one of a normal build: no recompilation.
if ! dotnet pack src/MLNet.Bayesian -c Release -o "$feed" -p:PackageVersion="$version" >"$work/pack.log" 2>&1; then
  tail -n 40 "$work/pack.log" >&2
  fail "dotnet pack src/MLNet.Bayesian failed (log above)"
fi
nupkg=$feed/MLNet.Bayesian.$version.nupkg
[ -f "$nupkg" ] || fail "expected $nupkg after packing; found: $(ls "$feed")"

# --- 2. the package's contents -----------------------------------------------------------------------------------
step "checking $(basename "$nupkg")"
python3 - "$nupkg" <<'PY' || fail "the package's contents are wrong (see above)"
import sys, zipfile, xml.etree.ElementTree as ET
path = sys.argv[1]
errors = []
with zipfile.ZipFile(path) as z:
    names = z.namelist()
    nuspecs = [n for n in names if n.endswith(".nuspec") and "/" not in n]
    if len(nuspecs) != 1:
        print(f"  expected one .nuspec at the root, found {nuspecs}"); sys.exit(1)
    root = ET.fromstring(z.read(nuspecs[0]))
prefix = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""   # "{namespace}" of the nuspec
meta = root.find(prefix + "metadata")
deps = [(d.get("id"), d.get("version")) for d in meta.iter(prefix + "dependency")]
print("  dependencies: " + ", ".join(f"{i} {v}" for i, v in sorted(set(deps), key=lambda d: d[0].lower())))
natives = [i for i, _ in deps if i.lower().startswith(("libtorch", "torchsharp-cuda", "torchsharp-cpu"))]
if natives:
    errors.append(f"depends on native LibTorch package(s) {sorted(set(natives))}: the application must pick its own")
if not any(i == "TorchSharp" for i, _ in deps):
    errors.append("has no dependency on TorchSharp")
readme = meta.find(prefix + "readme")
if readme is None or not (readme.text or "").strip():
    errors.append("the nuspec has no <readme>")
elif readme.text.strip() not in names:
    errors.append(f"the readme '{readme.text.strip()}' named by the nuspec is not in the package")
else:
    print(f"  readme: {readme.text.strip()}")
for required in ("buildTransitive/MLNet.Bayesian.targets", "buildTransitive/ElfVersionNeedPatcher.cs", "lib/net10.0/MLNet.Bayesian.dll"):
    if required not in names:
        errors.append(f"{required} is missing")
carried = [n for n in names if n.startswith("runtimes/") or "libtorch" in n.lower() or n.lower().endswith((".so", ".dylib"))]
if carried:
    errors.append(f"carries native files {carried[:5]}")
for e in errors:
    print("  error: package " + e)
sys.exit(1 if errors else 0)
PY

# --- 3. a consumer outside the repository ------------------------------------------------------------------------
step "building a consumer app with MLNet.Bayesian $version + $native_package $libtorch_version"
consumer=$work/consumer
# Stop MSBuild's upward search for Directory.Build.*/Directory.Packages.props (TMPDIR could be anywhere).
for f in Directory.Build.props Directory.Build.targets Directory.Packages.props; do echo '<Project />' >"$work/$f"; done
{
  echo '<?xml version="1.0" encoding="utf-8"?>'
  echo '<configuration>'
  echo "  <config><add key=\"globalPackagesFolder\" value=\"$work/packages\" /></config>"
  if [ -n "$user_packages" ] && [ -d "$user_packages" ]; then
    echo "  <fallbackPackageFolders><add key=\"user-global-packages\" value=\"$user_packages\" /></fallbackPackageFolders>"
  fi
  # Added to the sources the user's configuration already has (no <clear />).
  echo "  <packageSources><add key=\"mlnet-bayesian-check\" value=\"$feed\" /></packageSources>"
  echo '</configuration>'
} >"$consumer/nuget.config"
cat >"$consumer/Consumer.csproj" <<EOF
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="MLNet.Bayesian" Version="$version" />
    <PackageReference Include="$native_package" Version="$libtorch_version" />
  </ItemGroup>
</Project>
EOF
cat >"$consumer/Program.cs" <<'EOF'
// Trains a tiny 2DGBNN on random images through the plain API of the packed library, then predicts.
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Training;

const int count = 64, channels = 1, height = 28, width = 28, size = channels * height * width;
var rng = new Random(7);
var pixels = new float[count * size];
var labels = new int[count];
for (int i = 0; i < count; i++)
{
    labels[i] = i % 2;   // class 1 is brighter, so there is something to learn
    for (int j = 0; j < size; j++) pixels[i * size + j] = 0.6f * (float)rng.NextDouble() + 0.4f * labels[i];
}
var images = new ImageSet(pixels, labels, channels, height, width, new[] { "dark", "bright" });
var options = new TrainerOptions
{
    DeterministicEpochs = 1, MeanFieldEpochs = 1, SharedEpochs = 1, BatchSize = 16, PredictionSamples = 2, Seed = 1,
    SharedPosterior = new SharedPosteriorOptions { ComponentBudget = 8, MinMembers = 5 },
};
using var classifier = new BayesianTrainer(options).Fit(ArchitectureFactory.Create(Architecture.SmallCnn), images);
var predicted = classifier.Predict(images, samples: 2);
if (predicted.Count != count || predicted.Classes != 2 || Enumerable.Range(0, count).Any(i => !predicted.IsFinite(i)))
    throw new InvalidOperationException($"unexpected prediction: {predicted.Count} rows of {predicted.Classes} classes");
int correct = Enumerable.Range(0, count).Count(i => predicted.PredictedClass[i] == labels[i]);
Console.WriteLine($"consumer: trained SmallCnn through 3 stages on {count} random images " +
                  $"({classifier.Report.SharedParameters:N0} trainable in the shared posterior); training accuracy {correct}/{count}, " +
                  $"image 0: P(bright) {predicted.Row(0)[1]:F3}, mutual information {predicted.MutualInformation[0]:F4}");
EOF
# The readme's C# snippet must compile against the package (it is not run: it needs an image folder).
awk '/^```csharp/{inside=1; next} /^```/{if (inside) exit} inside' src/MLNet.Bayesian/PACKAGE.md >"$work/snippet.cs"
[ -s "$work/snippet.cs" ] || fail "no \`\`\`csharp block found in src/MLNet.Bayesian/PACKAGE.md"
{
  echo '// The C# block of PACKAGE.md, compiled (not run) by eng/check-package.sh.'
  grep '^using ' "$work/snippet.cs"
  echo 'static class ReadmeSnippet'
  echo '{'
  echo '    public static void Run()'
  echo '    {'
  grep -v '^using ' "$work/snippet.cs" | sed 's/^/        /'
  echo '    }'
  echo '}'
} >"$consumer/ReadmeSnippet.cs"

if ! (cd "$consumer" && dotnet build -c Release >"$work/build.log" 2>&1); then
  grep -E ' (error|warning) ' "$work/build.log" | sort -u | tail -n 30 >&2 || tail -n 40 "$work/build.log" >&2
  fail "the consumer app did not build against the package (errors above)"
fi
grep -E ' warning ' "$work/build.log" | sed 's/ \[.*\]$//' | sort -u | sed 's/^/  consumer build warning: /' || true
assets=$consumer/obj/project.assets.json
grep -q "\"MLNet.Bayesian/$version\"" "$assets" || fail "the consumer did not restore MLNet.Bayesian $version"
[ -f "$work/packages/mlnet.bayesian/$version/mlnet.bayesian.$version.nupkg" ] \
  || fail "MLNet.Bayesian $version was not restored from the fresh package into $work/packages"
grep -q 'buildTransitive/MLNet.Bayesian.targets' "$consumer/obj/Consumer.csproj.nuget.g.targets" \
  || fail "the consumer build did not import the package's buildTransitive/MLNet.Bayesian.targets"
[ -n "$(find "$consumer/bin/Release" -name 'libLibTorchSharp.*' -print -quit)" ] \
  || fail "the consumer's output has no libLibTorchSharp native library"

step "running the consumer app"
if ! (cd "$consumer" && dotnet run -c Release --no-build </dev/null >"$work/run.log" 2>&1); then
  tail -n 40 "$work/run.log" >&2
  fail "the consumer app failed at run time (output above)"
fi
grep -q '^consumer: trained' "$work/run.log" || { tail -n 40 "$work/run.log" >&2; fail "the consumer app did not print its result line"; }
grep '^consumer: ' "$work/run.log"

echo "package check: ok ($(basename "$nupkg"), $((SECONDS - started)) s)"
