// GET /hello/{name}: an ES module with an async handler, answering plain
// JSON (an HTTP API turns it into a 200 application/json response).

const greetings = new Map([
  ['en', 'Hello'],
  ['fr', 'Bonjour'],
  ['de', 'Hallo'],
]);

export const handler = async (event, context) => {
  const name = event.pathParameters?.name ?? 'world';
  const greeting = event.queryStringParameters?.greeting ?? greetings.get(event.queryStringParameters?.lang) ?? 'Hello';
  console.log(`greeting ${name}`);
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      message: `${greeting}, ${name}!`,
      functionName: context.functionName,
      remainingMs: context.getRemainingTimeInMillis() > 0,
    }),
  };
};
