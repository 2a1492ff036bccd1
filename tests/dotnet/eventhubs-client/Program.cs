// A small command-line client on the official .NET Event Hubs SDK (Azure.Messaging.EventHubs,
// on the Microsoft.Azure.Amqp stack), used by tests/dev/eventhubs/dotnet.test.ts to prove the
// local stand-in against a client nobody here wrote. Every command prints one JSON document on
// stdout; a refusal prints {"error": ...} and exits with status 2; bad usage exits with 64 and
// anything unexpected with the runtime's unhandled-exception status.
//
//   send <connection string> partition <id> <body>...   events to one partition, one batch
//   send <connection string> key <partition key> <body>...   events with a partition key
//   read <connection string> <partition id> <count>   the first <count> events from the start
//   properties <connection string>   hub properties and each partition's
using System.Text;
using System.Text.Json.Nodes;
using Azure.Messaging.EventHubs;
using Azure.Messaging.EventHubs.Consumer;
using Azure.Messaging.EventHubs.Producer;

// Fail fast: a refusal retried with backoff would only make the test slow.
var retry = new EventHubsRetryOptions { MaximumRetries = 0, TryTimeout = TimeSpan.FromSeconds(10) };

const string usage =
    "usage: send <connection> (partition <id> | key <key>) <body>... | read <connection> <partition> <count> | properties <connection>";

Func<Task<JsonNode>>? command = args switch
{
    ["send", var connection, "partition", var id, .. var bodies] when bodies.Length > 0 =>
        () => Send(connection, new SendEventOptions { PartitionId = id }, bodies),
    ["send", var connection, "key", var key, .. var bodies] when bodies.Length > 0 =>
        () => Send(connection, new SendEventOptions { PartitionKey = key }, bodies),
    ["read", var connection, var id, var count] when int.TryParse(count, out var n) && n > 0 =>
        () => Read(connection, id, n),
    ["properties", var connection] => () => Properties(connection),
    _ => null,
};
if (command is null)
{
    Console.Error.WriteLine(usage);
    return 64;
}

try
{
    Console.WriteLine((await command()).ToJsonString());
    return 0;
}
catch (Exception error) when (error is EventHubsException or UnauthorizedAccessException or ArgumentException)
{
    // How the SDK surfaces what the service refused (Azure/azure-sdk-for-net,
    // sdk/eventhub/Azure.Messaging.EventHubs/src/Amqp/AmqpError.cs): unauthorized-access as
    // UnauthorizedAccessException, argument errors as ArgumentException (or its
    // ArgumentOutOfRangeException), the rest as EventHubsException with a reason.
    Console.Error.WriteLine(error); // the whole chain, for a failing test's output
    Console.WriteLine(new JsonObject
    {
        ["error"] = error.GetType().Name,
        ["reason"] = error is EventHubsException hubs ? hubs.Reason.ToString() : null,
        ["message"] = error.Message,
    }.ToJsonString());
    return 2;
}

async Task<JsonNode> Send(string connection, SendEventOptions options, string[] bodies)
{
    await using var producer = new EventHubProducerClient(
        connection, new EventHubProducerClientOptions { RetryOptions = retry });
    await producer.SendAsync(bodies.Select(b => new EventData(Encoding.UTF8.GetBytes(b))), options);
    return new JsonObject { ["sent"] = bodies.Length };
}

async Task<JsonNode> Read(string connection, string partitionId, int count)
{
    await using var consumer = new EventHubConsumerClient(
        EventHubConsumerClient.DefaultConsumerGroupName,
        connection,
        new EventHubConsumerClientOptions { RetryOptions = retry });
    using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
    var events = new JsonArray();
    var reading = consumer.ReadEventsFromPartitionAsync(
        partitionId, EventPosition.Earliest, new ReadEventOptions { MaximumWaitTime = null }, deadline.Token);
    try
    {
        await foreach (var received in reading)
        {
            var data = received.Data;
            events.Add(new JsonObject
            {
                ["body"] = data.EventBody.ToString(),
                ["sequenceNumber"] = data.SequenceNumber,
                ["offset"] = data.OffsetString,
                ["partitionKey"] = data.PartitionKey,
                ["enqueuedTime"] = data.EnqueuedTime.ToUnixTimeMilliseconds(),
            });
            if (events.Count >= count) break;
        }
    }
    catch (OperationCanceledException) when (deadline.IsCancellationRequested)
    {
        // Fewer events than asked for arrived in time: report what did, the test says what's missing.
    }
    return new JsonObject { ["partition"] = partitionId, ["events"] = events };
}

async Task<JsonNode> Properties(string connection)
{
    await using var producer = new EventHubProducerClient(
        connection, new EventHubProducerClientOptions { RetryOptions = retry });
    var hub = await producer.GetEventHubPropertiesAsync();
    var partitions = new JsonArray();
    foreach (var id in hub.PartitionIds)
    {
        var p = await producer.GetPartitionPropertiesAsync(id);
        partitions.Add(new JsonObject
        {
            ["id"] = p.Id,
            ["beginningSequenceNumber"] = p.BeginningSequenceNumber,
            ["lastEnqueuedSequenceNumber"] = p.LastEnqueuedSequenceNumber,
            ["lastEnqueuedOffset"] = p.LastEnqueuedOffsetString,
            ["isEmpty"] = p.IsEmpty,
        });
    }
    return new JsonObject
    {
        ["name"] = hub.Name,
        ["partitionIds"] = new JsonArray(hub.PartitionIds.Select(id => (JsonNode?)id).ToArray()),
        ["partitions"] = partitions,
    };
}
