// GET /items/{id} and POST /items: a CommonJS module with a callback-style
// handler, the older Node.js handler signature Lambda still supports.

'use strict';

const items = new Map([
  ['7', { id: '7', name: 'kettle', price: 35 }],
  ['42', { id: '42', name: 'towel', price: 4.2 }],
]);

function respond(statusCode, body) {
  return {
    statusCode,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  };
}

exports.handler = (event, context, callback) => {
  const currency = process.env.CURRENCY || 'USD';
  switch (event.routeKey) {
    case 'GET /items/{id}': {
      const item = items.get(event.pathParameters?.id);
      if (!item) {
        callback(null, respond(404, { message: `no item ${event.pathParameters?.id}` }));
        return;
      }
      callback(null, respond(200, { ...item, currency }));
      return;
    }
    case 'POST /items': {
      let item;
      try {
        item = JSON.parse(event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString() : event.body);
      } catch (error) {
        callback(null, respond(400, { message: `the body is not JSON: ${error.message}` }));
        return;
      }
      if (typeof item?.name !== 'string') {
        callback(null, respond(400, { message: 'an item needs a string `name`' }));
        return;
      }
      console.info('created item', context.awsRequestId);
      callback(null, respond(201, { id: context.awsRequestId, name: item.name, price: item.price, currency }));
      return;
    }
    default:
      callback(null, respond(404, { message: `no route for ${event.routeKey}` }));
  }
};
