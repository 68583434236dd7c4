using NUnit.Framework;
using Qwen3Next.Streaming;

namespace Qwen3Next.Tests.Streaming;

public sealed class LruReplacementPolicyTests
{
    [Test]
    public void EvictsTheLeastRecentlyUsed()
    {
        var lru = new LruReplacementPolicy();
        var (a, b, c) = (new ExpertKey(0, 1), new ExpertKey(0, 2), new ExpertKey(1, 1));
        lru.Used(a);
        lru.Used(b);
        lru.Used(c);
        lru.Used(a);
        Assert.That(lru.ChooseVictim([a, b, c]), Is.EqualTo(b));
        Assert.That(lru.ChooseVictim([a, c]), Is.EqualTo(c));
    }
}
