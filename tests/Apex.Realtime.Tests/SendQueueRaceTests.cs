using Apex.Realtime.Gateway;

namespace Apex.Realtime.Tests;

/// <summary>
/// The connection's send queue is a hand-written <see cref="System.Threading.Tasks.Sources.IValueTaskSource{TResult}"/>:
/// these tests race its writers, its completion and its one reader on real threads. Every test runs a
/// fixed number of iterations and asserts only outcomes that must hold for every interleaving (what
/// was accepted is read once, in each writer's order; a finished queue says so), never a duration.
/// </summary>
public sealed class SendQueueRaceTests
{
    private const int Iterations = 2_000;

    [Fact(Timeout = 120_000)]
    public async Task Many_writers_and_one_reader_lose_nothing_and_keep_each_writers_order()
    {
        const int writers = 4;
        const int perWriter = 20_000;
        var queue = new SendQueue();
        using var start = new Barrier(writers);
        var writing = Enumerable.Range(0, writers).Select(w => Task.Factory.StartNew(() =>
        {
            start.SignalAndWait();
            for (var i = 0; i < perWriter; i++)
            {
                Assert.True(queue.TryWrite(new Item(w, i)));
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();

        var next = new int[writers];
        var read = 0;
        var completed = false;
        while (await queue.WaitToReadAsync())
        {
            while (queue.TakeAll() is { } batch)
            {
                foreach (var item in batch)
                {
                    var (writer, index) = (Item)item;
                    Assert.Equal(next[writer], index);
                    next[writer]++;
                    read++;
                }

                queue.Return(batch);
            }

            if (read == writers * perWriter && !completed)
            {
                // Everything is in: the writers are done, and completing must end the reader's loop.
                await Task.WhenAll(writing);
                queue.Complete();
                completed = true;
            }
        }

        Assert.True(completed);
        Assert.All(next, n => Assert.Equal(perWriter, n));
        Assert.False(queue.TryWrite(new Item(0, perWriter)));
        Assert.False(await queue.WaitToReadAsync());
    }

    [Fact(Timeout = 120_000)]
    public async Task A_write_racing_a_wait_always_wakes_the_reader_with_the_item()
    {
        var queue = new SendQueue();
        for (var i = 0; i < Iterations; i++)
        {
            using var start = new Barrier(2);
            var writer = Task.Run(() =>
            {
                start.SignalAndWait();
                Assert.True(queue.TryWrite(new Item(0, i)));
            });

            // The wait is taken either before the write (pending, then woken) or after it (already
            // completed); both must end with exactly this item and nothing else.
            start.SignalAndWait();
            Assert.True(await queue.WaitToReadAsync());
            await writer;
            var batch = queue.TakeAll();
            Assert.NotNull(batch);
            Assert.Equal(new Item(0, i), Assert.Single(batch));
            queue.Return(batch);
            Assert.Null(queue.TakeAll());
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task A_completion_racing_a_pending_wait_ends_it_with_false()
    {
        for (var i = 0; i < Iterations; i++)
        {
            var queue = new SendQueue();
            using var start = new Barrier(2);
            var completer = Task.Run(() =>
            {
                start.SignalAndWait();
                queue.Complete();
            });

            start.SignalAndWait();
            Assert.False(await queue.WaitToReadAsync());
            await completer;
            Assert.False(await queue.WaitToReadAsync());
            Assert.False(queue.TryWrite(new Item(0, i)));
            Assert.Null(queue.TakeAll());
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task Writes_racing_completion_are_either_refused_or_read_exactly_once()
    {
        for (var i = 0; i < Iterations; i++)
        {
            var queue = new SendQueue();
            using var start = new Barrier(3);
            var accepted = new bool[2];
            var writers = Enumerable.Range(0, 2).Select(w => Task.Run(() =>
            {
                start.SignalAndWait();
                accepted[w] = queue.TryWrite(new Item(w, i));
            })).ToArray();
            var completer = Task.Run(() =>
            {
                start.SignalAndWait();
                queue.Complete();
            });

            var read = new List<Item>();
            while (await queue.WaitToReadAsync())
            {
                while (queue.TakeAll() is { } batch)
                {
                    read.AddRange(batch.Cast<Item>());
                    queue.Return(batch);
                }
            }

            await Task.WhenAll([.. writers, completer]);
            var expected = Enumerable.Range(0, 2).Where(w => accepted[w]).Select(w => new Item(w, i)).ToHashSet();
            Assert.Equal(expected.Count, read.Count);
            Assert.True(expected.SetEquals(read));
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task The_reusable_wait_survives_many_pending_and_completed_rounds()
    {
        var queue = new SendQueue();
        var producer = Task.Run(async () =>
        {
            for (var i = 0; i < Iterations * 10; i++)
            {
                Assert.True(queue.TryWrite(new Item(0, i)));
                if (i % 7 == 0)
                {
                    // Let the reader catch up now and then so that it also waits on an empty queue.
                    await Task.Yield();
                }
            }

            queue.Complete();
        });

        var next = 0;
        while (await queue.WaitToReadAsync())
        {
            while (queue.TakeAll() is { } batch)
            {
                foreach (Item item in batch)
                {
                    Assert.Equal(next++, item.Index);
                }

                queue.Return(batch);
            }
        }

        await producer;
        Assert.Equal(Iterations * 10, next);
    }

    private sealed record Item(int Writer, int Index);
}
