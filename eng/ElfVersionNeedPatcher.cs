// Makes TorchSharp's native glue library load on Linux distributions whose libstdc++ predates GCC 13
// (Debian 12, Ubuntu 22.04). libLibTorchSharp.so asks for GLIBCXX_3.4.32 only because GCC 13's
// <iostream> emits a never-called reference to _ZSt21ios_base_library_initv; no relocation uses it.
// Marking that one version requirement weak (VER_FLG_WEAK in its Vernaux record) lets the dynamic
// loader accept the library. See ../shared/design/platform.md for how this was verified.
//
// This file is compiled twice: by MSBuild's RoslynCodeTaskFactory (eng/LibTorchSharpFix.targets,
// where the MSBuild task at the bottom is included) and by the tests (ELF_PATCHER_NO_MSBUILD defined).
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace MLNet.Bayesian.Build
{
    /// <summary>Outcome of <see cref="ElfVersionNeedPatcher.MarkVersionNeedWeak"/>.</summary>
    public enum ElfPatchResult
    {
        /// <summary>The flag was set now.</summary>
        Patched,
        /// <summary>The requirement was already weak; nothing written.</summary>
        AlreadyWeak,
        /// <summary>The library does not require that version; nothing written.</summary>
        NotRequired,
    }

    /// <summary>Reads and edits symbol-version records of 64-bit little-endian ELF files.</summary>
    public static class ElfVersionNeedPatcher
    {
        const uint ShtGnuVerdef = 0x6ffffffd;
        const uint ShtGnuVerneed = 0x6ffffffe;
        const ushort VerFlgWeak = 0x2;

        /// <summary>The library version whose requirement is safe to weaken (see the file comment).</summary>
        public const string DefaultVersion = "GLIBCXX_3.4.32";

        /// <summary>
        /// ORs VER_FLG_WEAK into the vna_flags of every Vernaux record named <paramref name="versionName"/>.
        /// Writes only the changed two-byte fields, in place.
        /// </summary>
        public static ElfPatchResult MarkVersionNeedWeak(string path, string versionName)
        {
            byte[] elf = File.ReadAllBytes(path);
            var offsets = new List<long>();
            bool sawAny = false;
            foreach (var (flagsOffset, name) in VersionNeeds(elf, path))
            {
                if (name != versionName) continue;
                sawAny = true;
                ushort flags = BitConverter.ToUInt16(elf, (int)flagsOffset);
                if ((flags & VerFlgWeak) == 0) offsets.Add(flagsOffset);
            }
            if (!sawAny) return ElfPatchResult.NotRequired;
            if (offsets.Count == 0) return ElfPatchResult.AlreadyWeak;

            using (var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
            {
                foreach (long offset in offsets)
                {
                    ushort flags = (ushort)(BitConverter.ToUInt16(elf, (int)offset) | VerFlgWeak);
                    stream.Position = offset;
                    stream.Write(BitConverter.GetBytes(flags), 0, 2);
                }
            }
            return ElfPatchResult.Patched;
        }

        /// <summary>Version requirements of an ELF file: (file offset of vna_flags, version name).</summary>
        public static IEnumerable<(long FlagsOffset, string Name)> VersionNeeds(byte[] elf, string path)
        {
            foreach (var section in Sections(elf, path, ShtGnuVerneed))
            {
                long entry = section.Offset;
                for (uint i = 0; i < section.Info; i++)
                {
                    ushort count = U16(elf, entry + 2, path);
                    long aux = entry + U32(elf, entry + 8, path);
                    for (int j = 0; j < count; j++)
                    {
                        uint nameOffset = U32(elf, aux + 8, path);
                        yield return (aux + 4, CString(elf, section.StringsOffset + nameOffset, path));
                        uint next = U32(elf, aux + 12, path);
                        if (next == 0) break;
                        aux += next;
                    }
                    uint nextEntry = U32(elf, entry + 12, path);
                    if (nextEntry == 0) break;
                    entry += nextEntry;
                }
            }
        }

        /// <summary>Version names an ELF shared library defines (its .gnu.version_d section).</summary>
        public static HashSet<string> VersionDefinitions(string path)
        {
            byte[] elf = File.ReadAllBytes(path);
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var section in Sections(elf, path, ShtGnuVerdef))
            {
                long entry = section.Offset;
                for (uint i = 0; i < section.Info; i++)
                {
                    ushort count = U16(elf, entry + 6, path);
                    if (count > 0)
                    {
                        long aux = entry + U32(elf, entry + 12, path);
                        names.Add(CString(elf, section.StringsOffset + U32(elf, aux, path), path));
                    }
                    uint next = U32(elf, entry + 16, path);
                    if (next == 0) break;
                    entry += next;
                }
            }
            return names;
        }

        /// <summary>The libstdc++.so.6 the dynamic loader would pick, or null when none is found.</summary>
        public static string? FindHostLibStdCxx()
        {
            string[] candidates =
            {
                "/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
                "/lib/aarch64-linux-gnu/libstdc++.so.6", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
                "/usr/lib64/libstdc++.so.6", "/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
            };
            foreach (string candidate in candidates)
                if (File.Exists(candidate)) return candidate;
            return null;
        }

        /// <summary>
        /// Weakens the requirement only when <paramref name="hostLibStdCxx"/> lacks the version.
        /// Returns null when nothing had to be done because the host provides it.
        /// </summary>
        public static ElfPatchResult? PatchIfHostLacksVersion(string library, string hostLibStdCxx, string versionName)
        {
            if (VersionDefinitions(hostLibStdCxx).Contains(versionName)) return null;
            return MarkVersionNeedWeak(library, versionName);
        }

        readonly struct Section
        {
            public Section(long offset, uint info, long stringsOffset)
            {
                Offset = offset; Info = info; StringsOffset = stringsOffset;
            }
            public long Offset { get; }
            public uint Info { get; }
            public long StringsOffset { get; }
        }

        static IEnumerable<Section> Sections(byte[] elf, string path, uint type)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new InvalidDataException($"'{path}' is not an ELF file.");
            if (elf[4] != 2 || elf[5] != 1)
                throw new InvalidDataException($"'{path}' is not a 64-bit little-endian ELF file.");
            long shoff = (long)U64(elf, 40, path);
            ushort shentsize = U16(elf, 58, path);
            ushort shnum = U16(elf, 60, path);
            if (shentsize < 64) throw new InvalidDataException($"'{path}': bad section header size {shentsize}.");
            var found = new List<Section>();
            for (int i = 0; i < shnum; i++)
            {
                long header = shoff + (long)i * shentsize;
                if (U32(elf, header + 4, path) != type) continue;
                uint link = U32(elf, header + 40, path);
                if (link >= shnum) throw new InvalidDataException($"'{path}': section {i} links to missing section {link}.");
                long strings = (long)U64(elf, shoff + (long)link * shentsize + 24, path);
                found.Add(new Section((long)U64(elf, header + 24, path), U32(elf, header + 44, path), strings));
            }
            return found;
        }

        static void Check(byte[] elf, long offset, int size, string path)
        {
            if (offset < 0 || offset + size > elf.Length)
                throw new InvalidDataException($"'{path}' is truncated or corrupt (offset {offset} is outside the file).");
        }
        static ushort U16(byte[] b, long o, string p) { Check(b, o, 2, p); return BitConverter.ToUInt16(b, (int)o); }
        static uint U32(byte[] b, long o, string p) { Check(b, o, 4, p); return BitConverter.ToUInt32(b, (int)o); }
        static ulong U64(byte[] b, long o, string p) { Check(b, o, 8, p); return BitConverter.ToUInt64(b, (int)o); }
        static string CString(byte[] b, long o, string p)
        {
            Check(b, o, 1, p);
            long end = o;
            while (end < b.Length && b[end] != 0) end++;
            return Encoding.ASCII.GetString(b, (int)o, (int)(end - o));
        }
    }

#if !ELF_PATCHER_NO_MSBUILD
    /// <summary>MSBuild task: patches every given libLibTorchSharp.so when the host needs it.</summary>
    public class PatchLibTorchSharp : Microsoft.Build.Utilities.Task
    {
        [Microsoft.Build.Framework.Required]
        public Microsoft.Build.Framework.ITaskItem[] Libraries { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

        public string VersionName { get; set; } = ElfVersionNeedPatcher.DefaultVersion;

        public override bool Execute()
        {
            string? host = ElfVersionNeedPatcher.FindHostLibStdCxx();
            foreach (var item in Libraries)
            {
                string library = item.ItemSpec;
                ElfPatchResult? result = host == null
                    ? ElfVersionNeedPatcher.MarkVersionNeedWeak(library, VersionName)
                    : ElfVersionNeedPatcher.PatchIfHostLacksVersion(library, host, VersionName);
                if (result == ElfPatchResult.Patched)
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High,
                        $"MLNet.Bayesian: marked {VersionName} weak in {library} (host libstdc++ lacks it).");
            }
            return !Log.HasLoggedErrors;
        }
    }
#endif
}
