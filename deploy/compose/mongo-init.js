// Initiates the replica set rs0 of mongo1..3 once (compose's mongo-init service).
try {
  rs.status();
  print("tiaki: replica set rs0 already initiated");
} catch (e) {
  if (e.codeName !== "NotYetInitialized") throw e;
  rs.initiate({
    _id: "rs0",
    members: [
      { _id: 0, host: "mongo1:27017" },
      { _id: 1, host: "mongo2:27017" },
      { _id: 2, host: "mongo3:27017" },
    ],
  });
  print("tiaki: replica set rs0 initiated");
}
