using MLNet.Bayesian.Build;

namespace MLNet.Bayesian.Tests.Build;

[TestClass]
public sealed class ElfVersionNeedPatcherTests
{
    static string PristineLibrary()
    {
        // The NuGet cache holds the untouched library; the tests only ever edit copies of it.
        string home = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string path = Path.Combine(home, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        if (!File.Exists(path)) Assert.Inconclusive($"TorchSharp's native library is not in the NuGet cache at {path}.");
        return path;
    }

    static string CopyOfLibrary()
    {
        string copy = Path.Combine(TestData.TempFolder(), "libLibTorchSharp.so");
        File.Copy(PristineLibrary(), copy);
        return copy;
    }

    [TestMethod]
    public void SetsExactlyTheOneFlagAndNothingElse()
    {
        string copy = CopyOfLibrary();
        byte[] before = File.ReadAllBytes(copy);
        var need = ElfVersionNeedPatcher.VersionNeeds(before, copy).Single(v => v.Name == ElfVersionNeedPatcher.DefaultVersion);
        Assert.AreEqual(0, BitConverter.ToUInt16(before, (int)need.FlagsOffset) & 2, "the shipped library has a hard requirement");

        Assert.AreEqual(ElfPatchResult.Patched, ElfVersionNeedPatcher.MarkVersionNeedWeak(copy, ElfVersionNeedPatcher.DefaultVersion));

        byte[] after = File.ReadAllBytes(copy);
        Assert.AreEqual(before.Length, after.Length);
        var changed = Enumerable.Range(0, before.Length).Where(i => before[i] != after[i]).ToList();
        Assert.AreEqual(1, changed.Count, "exactly one byte changes");
        Assert.AreEqual(need.FlagsOffset, changed[0], "the changed byte is the low byte of vna_flags");
        Assert.AreEqual(before[changed[0]] | 2, after[changed[0]]);
    }

    [TestMethod]
    public void IsIdempotent()
    {
        string copy = CopyOfLibrary();
        ElfVersionNeedPatcher.MarkVersionNeedWeak(copy, ElfVersionNeedPatcher.DefaultVersion);
        byte[] once = File.ReadAllBytes(copy);
        Assert.AreEqual(ElfPatchResult.AlreadyWeak, ElfVersionNeedPatcher.MarkVersionNeedWeak(copy, ElfVersionNeedPatcher.DefaultVersion));
        CollectionAssert.AreEqual(once, File.ReadAllBytes(copy));
    }

    [TestMethod]
    public void DoesNothingWhenTheHostHasTheVersion()
    {
        string host = ElfVersionNeedPatcher.FindHostLibStdCxx() ?? throw new AssertFailedException("no libstdc++.so.6 on this host");
        var defined = ElfVersionNeedPatcher.VersionDefinitions(host);
        Assert.IsTrue(defined.Contains("GLIBCXX_3.4.30"), "the parser reads the host's version definitions");
        string copy = CopyOfLibrary();
        byte[] before = File.ReadAllBytes(copy);
        // GLIBCXX_3.4.30 is required by the library and provided by every supported host.
        Assert.IsTrue(ElfVersionNeedPatcher.VersionNeeds(before, copy).Any(v => v.Name == "GLIBCXX_3.4.30"));
        Assert.IsNull(ElfVersionNeedPatcher.PatchIfHostLacksVersion(copy, host, "GLIBCXX_3.4.30"));
        CollectionAssert.AreEqual(before, File.ReadAllBytes(copy));
    }

    [TestMethod]
    public void PatchesWhenTheHostLacksTheVersion()
    {
        string host = ElfVersionNeedPatcher.FindHostLibStdCxx()!;
        if (ElfVersionNeedPatcher.VersionDefinitions(host).Contains(ElfVersionNeedPatcher.DefaultVersion))
            Assert.Inconclusive("This host's libstdc++ has GLIBCXX_3.4.32; nothing to patch here.");
        string copy = CopyOfLibrary();
        Assert.AreEqual(ElfPatchResult.Patched, ElfVersionNeedPatcher.PatchIfHostLacksVersion(copy, host, ElfVersionNeedPatcher.DefaultVersion));
    }

    [TestMethod]
    public void TheBuildOutputCopyIsPatchedAndTheCacheIsNot()
    {
        byte[] pristine = File.ReadAllBytes(PristineLibrary());
        var need = ElfVersionNeedPatcher.VersionNeeds(pristine, "cache").Single(v => v.Name == ElfVersionNeedPatcher.DefaultVersion);
        Assert.AreEqual(0, pristine[need.FlagsOffset] & 2, "the NuGet cache copy is untouched");
        string host = ElfVersionNeedPatcher.FindHostLibStdCxx()!;
        if (ElfVersionNeedPatcher.VersionDefinitions(host).Contains(ElfVersionNeedPatcher.DefaultVersion)) return;
        string output = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        byte[] built = File.ReadAllBytes(output);
        Assert.AreEqual(2, built[need.FlagsOffset] & 2, "the build step marked the output copy weak");
    }

    [TestMethod]
    public void NonElfInputGivesAnErrorNamingTheFile()
    {
        string path = Path.Combine(TestData.TempFolder(), "not-elf.so");
        File.WriteAllText(path, "hello, this is not an ELF file at all, padding padding padding padding");
        var e = Assert.ThrowsExactly<InvalidDataException>(() => ElfVersionNeedPatcher.MarkVersionNeedWeak(path, "X"));
        StringAssert.Contains(e.Message, path);
    }
}
