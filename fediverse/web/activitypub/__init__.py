"""What peers call: WebFinger, NodeInfo, actors, collections, objects, inboxes."""
