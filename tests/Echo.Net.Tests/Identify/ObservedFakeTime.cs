using Microsoft.Extensions.Time.Testing;

namespace Echo.Net.Tests.Identify;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that also says when timers are created. A test that advances
/// the clock to fire a timeout must first know that the timer exists: advancing before it is
/// created would leave it pending for ever.
/// </summary>
internal sealed class ObservedFakeTime : TimeProvider
{
    private readonly FakeTimeProvider _clock = new();
    private readonly Lock _gate = new();
    private readonly List<TimeSpan> _created = [];
    private readonly List<(TimeSpan DueTime, int Count, TaskCompletionSource Reached)> _waiters = [];

    public override DateTimeOffset GetUtcNow() => _clock.GetUtcNow();

    public override long GetTimestamp() => _clock.GetTimestamp();

    public override long TimestampFrequency => _clock.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => _clock.LocalTimeZone;

    public void Advance(TimeSpan delta) => _clock.Advance(delta);

    /// <summary>How many timers with this due time were created so far.</summary>
    public int TimersCreated(TimeSpan dueTime)
    {
        lock (_gate)
            return _created.Count(d => d == dueTime);
    }

    /// <summary>Completes once <paramref name="count"/> timers with <paramref name="dueTime"/> exist (created, fired or not); bounded by 30 s and the test.</summary>
    public Task WaitForTimersAsync(TimeSpan dueTime, int count)
    {
        TaskCompletionSource reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (_created.Count(d => d == dueTime) >= count)
                return Task.CompletedTask;
            _waiters.Add((dueTime, count, reached));
        }
        return reached.Task.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ITimer timer = _clock.CreateTimer(callback, state, dueTime, period);
        List<TaskCompletionSource> woken = [];
        lock (_gate)
        {
            _created.Add(dueTime);
            int count = _created.Count(d => d == dueTime);
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].DueTime == dueTime && count >= _waiters[i].Count)
                {
                    woken.Add(_waiters[i].Reached);
                    _waiters.RemoveAt(i);
                }
            }
        }
        foreach (TaskCompletionSource waiter in woken)
            waiter.TrySetResult();
        return timer;
    }
}
