// A Deno function in the fetch style (as in workerd): a Request in, a Response out.
export default {
  fetch(request: Request): Response {
    const url = new URL(request.url);
    const name = url.searchParams.get("name") ?? "world";
    return Response.json({ message: `Hello, ${name}, from Deno behind fnshim`, path: url.pathname });
  },
};
